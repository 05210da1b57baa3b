// The namespaces most files of this project use, imported once here instead of at the top of each file.
global using CpuidFunctional.Core;
global using CpuidFunctional.Core.Model;
global using CpuidFunctional.Core.State;
global using CpuidFunctional.Interpreter.Decoding;
global using CpuidFunctional.Interpreter.Svm;
global using CpuidFunctional.Interpreter.Vmx;
