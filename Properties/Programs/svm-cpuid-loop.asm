; The nested SVM CPUID round trip: L2 runs CPUID.1 in a loop and reports the last CPUID.1:ECX it saw on port 0x82,
; then VMMCALLs. With INTERCEPT_CPUID=1 every CPUID exits to L1 (exit code 0x72) and L1's handler resumes L2 at
; next_rip (the round trip of the issue's seed, on AMD); with INTERCEPT_CPUID=0 L0 answers L2's CPUID itself, with
; L2's CR4. L1's CR4 has OSXSAVE and PKE, L2's neither. L1 reports the final exit code (port 0x80) and its own
; CPUID.1:ECX (port 0x81). Assemble: nasm -f bin -D ROUND_TRIPS=10 -D INTERCEPT_CPUID=1 svm-cpuid-loop.asm
bits 64
org 0x1000

%ifndef ROUND_TRIPS
%define ROUND_TRIPS 10
%endif
%ifndef INTERCEPT_CPUID
%define INTERCEPT_CPUID 1
%endif
%define HOST_CR4        0x440620    ; PAE|OSFXSR|OSXMMEXCPT|OSXSAVE|PKE
%define GUEST_CR4       0x620       ; PAE|OSFXSR|OSXMMEXCPT
%define L2_ENTRY        l2
%define INTERCEPT_WORD3 (INTERCEPT_CPUID << 18)
%define INTERCEPT_WORD4 2           ; VMMCALL
%include "svm-harness.inc"

    SVM_SETUP
run:
    VMRUN_VMCB
    READ_EXIT_CODE
    cmp eax, strict dword 0x72      ; SVM_EXIT_CPUID
    jne .other
    SKIP_L2_INSTRUCTION
    jmp run
.other:
    REPORT_AND_HALT

l2:
    mov r12d, ROUND_TRIPS
.top:
    mov eax, 1
    xor ecx, ecx
    cpuid
    dec r12d
    jne .top
    mov eax, ecx
    out 0x82, eax
    vmmcall
