; L1 toggles CR4.OSXSAVE and CR4.PKE around VMRUN: before each of four VMRUNs L1 flips both bits in its own CR4
; and gives vmcb12 the opposite setting, so every VMRUN and every #VMEXIT changes them through svm_set_cr4. L2
; (CPUID not intercepted: L0 answers) reports CPUID.1:ECX on port 0x82 and CPUID.7.0:ECX on port 0x87, then
; VMMCALLs. L1 reports its own CPUID.1:ECX before each VMRUN (port 0x83) and after each #VMEXIT (port 0x81), and
; CPUID.7.0:ECX after it (port 0x88).
; Assemble: nasm -f bin svm-l1-toggle.asm
bits 64
org 0x1000

%define HOST_CR4        0x620       ; PAE|OSFXSR|OSXMMEXCPT
%define GUEST_CR4       0x440620    ; and OSXSAVE|PKE
%define L2_ENTRY        l2
%define INTERCEPT_WORD3 0
%define INTERCEPT_WORD4 2           ; VMMCALL
%include "svm-harness.inc"

    SVM_SETUP
    mov r13d, 4
round:
    mov rax, cr4
    xor eax, 0x440000               ; flip OSXSAVE|PKE in L1's CR4
    mov cr4, rax
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x83, eax                   ; L1 looks before VMRUN
    mov rdi, strict qword VMCB
    mov rdx, [rdi+VMCB_SAVE_CR4]
    xor edx, 0x440000               ; and in L2's
    mov [rdi+VMCB_SAVE_CR4], rdx
    lea rax, [rel l2]
    mov [rdi+VMCB_SAVE_RIP], rax
    VMRUN_VMCB
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x81, eax
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x88, eax
    dec r13d
    jne round
    READ_EXIT_CODE
    out 0x80, eax
    hlt

l2:
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x82, eax
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x87, eax
    vmmcall
