// The namespaces most files of this project use, imported once here instead of at the top of each file.
global using CpuidFunctional.Core.Cpuid;
global using CpuidFunctional.Core.Host;
global using CpuidFunctional.Core.Model;
global using CpuidFunctional.Core.State;
global using CpuidFunctional.Interpreter.Decoding;
global using CpuidFunctional.Interpreter.Execution;
global using CpuidFunctional.Interpreter.Vmx;
