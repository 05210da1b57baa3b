; kvm-unit-tests' svm_cr4_osxsave_test in our words: L1 runs with CR4.OSXSAVE and gives vmcb12 the same CR4; L2
; clears CR4.OSXSAVE (L1 does not intercept CR4 writes, so L0 takes it) and ends with VMMCALL; L1 reports the exit
; code (port 0x80, 0x81 = VMMCALL) and its own CPUID.1:ECX (port 0x81), whose OSXSAVE bit must be 1 again: the
; #VMEXIT restored L1's CR4 through svm_set_cr4. Assemble: nasm -f bin svm-cr4-osxsave.asm
bits 64
org 0x1000

%define HOST_CR4        0x440620    ; PAE|OSFXSR|OSXMMEXCPT|OSXSAVE|PKE
%define GUEST_CR4       0x440620
%define L2_ENTRY        l2
%define INTERCEPT_WORD3 0
%define INTERCEPT_WORD4 2           ; VMMCALL
%include "svm-harness.inc"

    SVM_SETUP
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x83, eax                   ; CPUID.1:ECX before VMRUN
    VMRUN_VMCB
    READ_EXIT_CODE
    REPORT_AND_HALT

l2:
    mov rax, cr4
    btr rax, 18                     ; CR4.OSXSAVE
    mov cr4, rax
    vmmcall
