; The seed's nested CPUID round trip (Workloads.CpuidLoop): L2 runs CPUID.1 in a tight loop; the minimal L1
; handler reads the exit reason and instruction length, advances GUEST_RIP and VMRESUMEs. L1's CR4 has
; OSXSAVE and PKE, L2's has neither. Assemble: nasm -f bin -D ROUND_TRIPS=10 cpuid-loop.asm
bits 64
org 0x1000

%ifndef ROUND_TRIPS
%define ROUND_TRIPS 10
%endif
%define HOST_CR4  0x442620          ; PAE|OSFXSR|OSXMMEXCPT|VMXE|OSXSAVE|PKE
%define GUEST_CR4 0x2620            ; PAE|OSFXSR|OSXMMEXCPT|VMXE
%define EXIT_HANDLER exit_handler
%define L2_ENTRY l2
%include "vmx-harness.inc"

    VMX_SETUP

exit_handler:
    mov ebx, 0x4402                 ; VM_EXIT_REASON
    vmread rax, rbx
    cmp eax, strict dword 10        ; CPUID
    jne .other
    mov ebx, 0x440C                 ; VM_EXIT_INSTRUCTION_LEN
    vmread rcx, rbx
    mov ebx, 0x681E                 ; GUEST_RIP
    vmread rdx, rbx
    add rdx, rcx
    vmwrite rbx, rdx
    vmresume
    REPORT_VMFAIL_AND_HALT
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
    vmcall
