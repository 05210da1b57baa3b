; L1 alone: enable CR4.OSXSAVE and CR4.PKE, XCR0 = x87|SSE|AVX|PKRU, then report CPUID.1:ECX (port 0x81),
; CPUID.7.0:ECX (port 0x87) and CPUID.0xD.0:EBX (port 0x8D). Assemble: nasm -f bin l1-osxsave-pke-xsetbv.asm
bits 64
org 0x1000
    mov rax, cr4
    or rax, 0x440000                ; OSXSAVE | PKE
    mov cr4, rax
    xor ecx, ecx
    mov eax, 0x207
    xor edx, edx
    xsetbv
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x81, eax
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ecx
    out 0x87, eax
    mov eax, 0xD
    xor ecx, ecx
    cpuid
    mov eax, ebx
    out 0x8D, eax
    hlt
