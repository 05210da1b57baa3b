; The vmx_cr4_osxsave variant whose only CR4 changes are the nested loads: L1 runs with OSXSAVE, vmcs12's GUEST_CR4
; lacks it, L2 writes no CR4 and only VMCALLs; L1 reports the exit reason (port 0x80) and its own CPUID.1:ECX
; (port 0x81), whose OSXSAVE bit must be 1. Assemble: nasm -f bin vmx-cr4-osxsave-entry.asm
bits 64
org 0x1000

%define HOST_CR4  0x42620           ; PAE|OSFXSR|OSXMMEXCPT|VMXE|OSXSAVE
%define GUEST_CR4 0x2620            ; PAE|OSFXSR|OSXMMEXCPT|VMXE
%define EXIT_HANDLER exit_handler
%define L2_ENTRY l2
%include "vmx-harness.inc"

    VMX_SETUP

exit_handler:
    mov ebx, 0x4402                 ; VM_EXIT_REASON
    vmread rax, rbx
    REPORT_AND_HALT

l2:
    vmcall
