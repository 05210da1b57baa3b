; kvm-unit-tests' vmx_cr4_osxsave: L1 runs with OSXSAVE; L2 clears CR4.OSXSAVE (L1 does not own the bit, so L0
; applies it) and VMCALLs; L1 reports the exit reason (port 0x80) and its own CPUID.1:ECX (port 0x81), whose
; OSXSAVE bit must be 1 again. Assemble: nasm -f bin vmx-cr4-osxsave.asm
bits 64
org 0x1000

%define HOST_CR4  0x442620          ; PAE|OSFXSR|OSXMMEXCPT|VMXE|OSXSAVE|PKE
%define GUEST_CR4 0x42620           ; PAE|OSFXSR|OSXMMEXCPT|VMXE|OSXSAVE
%define EXIT_HANDLER exit_handler
%define L2_ENTRY l2
%include "vmx-harness.inc"

    VMX_SETUP

exit_handler:
    mov ebx, 0x4402                 ; VM_EXIT_REASON
    vmread rax, rbx
    REPORT_AND_HALT

l2:
    mov rax, cr4
    btr rax, 18                     ; CR4.OSXSAVE
    mov cr4, rax
    vmcall
