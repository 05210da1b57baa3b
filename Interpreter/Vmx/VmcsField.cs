namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// The vmcs12 fields the interpreter supports, by their SDM encodings (Vol. 3, Appendix B). An encoding's bits 14:13
/// give the width (16-bit, 64-bit, 32-bit, natural), bits 11:10 the type (control, read-only exit information, guest
/// state, host state), bits 9:1 the index and bit 0 the high half of a 64-bit field. VMREAD/VMWRITE of any other
/// encoding fail with VM-instruction error 12.
/// </summary>
public static class VmcsField
{
#pragma warning disable CS1591 // The names are the SDM's field names; each constant is documented by its encoding.
    public const uint VirtualProcessorId = 0x0000;
    public const uint PostedIntrNv = 0x0002;
    public const uint GuestEsSelector = 0x0800;
    public const uint GuestCsSelector = 0x0802;
    public const uint GuestSsSelector = 0x0804;
    public const uint GuestDsSelector = 0x0806;
    public const uint GuestFsSelector = 0x0808;
    public const uint GuestGsSelector = 0x080A;
    public const uint GuestLdtrSelector = 0x080C;
    public const uint GuestTrSelector = 0x080E;
    public const uint GuestIntrStatus = 0x0810;
    public const uint GuestPmlIndex = 0x0812;
    public const uint HostEsSelector = 0x0C00;
    public const uint HostCsSelector = 0x0C02;
    public const uint HostSsSelector = 0x0C04;
    public const uint HostDsSelector = 0x0C06;
    public const uint HostFsSelector = 0x0C08;
    public const uint HostGsSelector = 0x0C0A;
    public const uint HostTrSelector = 0x0C0C;

    public const uint IoBitmapA = 0x2000;
    public const uint IoBitmapB = 0x2002;
    public const uint MsrBitmap = 0x2004;
    public const uint VmExitMsrStoreAddr = 0x2006;
    public const uint VmExitMsrLoadAddr = 0x2008;
    public const uint VmEntryMsrLoadAddr = 0x200A;
    public const uint PmlAddress = 0x200E;
    public const uint TscOffset = 0x2010;
    public const uint VirtualApicPageAddr = 0x2012;
    public const uint ApicAccessAddr = 0x2014;
    public const uint PostedIntrDescAddr = 0x2016;
    public const uint VmFunctionControl = 0x2018;
    public const uint EptPointer = 0x201A;
    public const uint EoiExitBitmap0 = 0x201C;
    public const uint EoiExitBitmap3 = 0x2022;
    public const uint EptpListAddress = 0x2024;
    public const uint VmreadBitmap = 0x2026;
    public const uint VmwriteBitmap = 0x2028;
    public const uint XssExitBitmap = 0x202C;
    public const uint EnclsExitingBitmap = 0x202E;
    public const uint TscMultiplier = 0x2032;
    public const uint GuestPhysicalAddress = 0x2400;
    public const uint VmcsLinkPointer = 0x2800;
    public const uint GuestIa32Debugctl = 0x2802;
    public const uint GuestIa32Pat = 0x2804;
    public const uint GuestIa32Efer = 0x2806;
    public const uint GuestIa32PerfGlobalCtrl = 0x2808;
    public const uint GuestPdptr0 = 0x280A;
    public const uint GuestPdptr3 = 0x2810;
    public const uint GuestBndcfgs = 0x2812;
    public const uint HostIa32Pat = 0x2C00;
    public const uint HostIa32Efer = 0x2C02;
    public const uint HostIa32PerfGlobalCtrl = 0x2C04;

    public const uint PinBasedVmExecControl = 0x4000;
    public const uint CpuBasedVmExecControl = 0x4002;
    public const uint ExceptionBitmap = 0x4004;
    public const uint PageFaultErrorCodeMask = 0x4006;
    public const uint PageFaultErrorCodeMatch = 0x4008;
    public const uint Cr3TargetCount = 0x400A;
    public const uint VmExitControls = 0x400C;
    public const uint VmExitMsrStoreCount = 0x400E;
    public const uint VmExitMsrLoadCount = 0x4010;
    public const uint VmEntryControls = 0x4012;
    public const uint VmEntryMsrLoadCount = 0x4014;
    public const uint VmEntryIntrInfoField = 0x4016;
    public const uint VmEntryExceptionErrorCode = 0x4018;
    public const uint VmEntryInstructionLen = 0x401A;
    public const uint TprThreshold = 0x401C;
    public const uint SecondaryVmExecControl = 0x401E;

    public const uint VmInstructionError = 0x4400;
    public const uint VmExitReason = 0x4402;
    public const uint VmExitIntrInfo = 0x4404;
    public const uint VmExitIntrErrorCode = 0x4406;
    public const uint IdtVectoringInfoField = 0x4408;
    public const uint IdtVectoringErrorCode = 0x440A;
    public const uint VmExitInstructionLen = 0x440C;
    public const uint VmxInstructionInfo = 0x440E;

    public const uint GuestEsLimit = 0x4800;
    public const uint GuestTrLimit = 0x480E;
    public const uint GuestGdtrLimit = 0x4810;
    public const uint GuestIdtrLimit = 0x4812;
    public const uint GuestEsArBytes = 0x4814;
    public const uint GuestTrArBytes = 0x4822;
    public const uint GuestInterruptibilityInfo = 0x4824;
    public const uint GuestActivityState = 0x4826;
    public const uint GuestSysenterCs = 0x482A;
    public const uint VmxPreemptionTimerValue = 0x482E;
    public const uint HostIa32SysenterCs = 0x4C00;

    public const uint Cr0GuestHostMask = 0x6000;
    public const uint Cr4GuestHostMask = 0x6002;
    public const uint Cr0ReadShadow = 0x6004;
    public const uint Cr4ReadShadow = 0x6006;
    public const uint ExitQualification = 0x6400;
    public const uint GuestLinearAddress = 0x640A;

    public const uint GuestCr0 = 0x6800;
    public const uint GuestCr3 = 0x6802;
    public const uint GuestCr4 = 0x6804;
    public const uint GuestEsBase = 0x6806;
    public const uint GuestTrBase = 0x6814;
    public const uint GuestGdtrBase = 0x6816;
    public const uint GuestIdtrBase = 0x6818;
    public const uint GuestDr7 = 0x681A;
    public const uint GuestRsp = 0x681C;
    public const uint GuestRip = 0x681E;
    public const uint GuestRflags = 0x6820;
    public const uint GuestPendingDbgExceptions = 0x6822;
    public const uint GuestSysenterEsp = 0x6824;
    public const uint GuestSysenterEip = 0x6826;
    public const uint GuestSCet = 0x6828;
    public const uint GuestSsp = 0x682A;
    public const uint GuestIntrSspTable = 0x682C;

    public const uint HostCr0 = 0x6C00;
    public const uint HostCr3 = 0x6C02;
    public const uint HostCr4 = 0x6C04;
    public const uint HostFsBase = 0x6C06;
    public const uint HostGsBase = 0x6C08;
    public const uint HostTrBase = 0x6C0A;
    public const uint HostGdtrBase = 0x6C0C;
    public const uint HostIdtrBase = 0x6C0E;
    public const uint HostIa32SysenterEsp = 0x6C10;
    public const uint HostIa32SysenterEip = 0x6C12;
    public const uint HostRsp = 0x6C14;
    public const uint HostRip = 0x6C16;
    public const uint HostSCet = 0x6C18;
    public const uint HostSsp = 0x6C1A;
    public const uint HostIntrSspTable = 0x6C1C;
#pragma warning restore CS1591

    /// <summary>Width of a field (encoding bits 14:13).</summary>
    public enum Width
    {
        /// <summary>16-bit.</summary>
        Bits16 = 0,

        /// <summary>64-bit (with a separate high-half encoding).</summary>
        Bits64 = 1,

        /// <summary>32-bit.</summary>
        Bits32 = 2,

        /// <summary>Natural width (64 bits here).</summary>
        Natural = 3,
    }

    /// <summary>Chunks: one per (width, type) pair.</summary>
    internal const int ChunkCount = 16;

    // Declared before the tables built from them (static fields initialize in text order).
    private static readonly uint[] CetEncodings = [GuestSCet, GuestSsp, GuestIntrSspTable, HostSCet, HostSsp, HostIntrSspTable];

    // The CET fields' indices per chunk (bit i = index i).
    private static readonly uint[] CetIndices = Marked(CetEncodings);

    // Supported indices per chunk (bit i = index i), chunk = width * 4 + type.
    private static readonly uint[] Supported = BuildSupported();

    /// <summary>Number of slots each chunk needs (highest supported index + 1).</summary>
    internal static readonly int[] ChunkLength = BuildLengths();

    /// <summary>All supported full-field encodings, in encoding order.</summary>
    public static IReadOnlyList<uint> All { get; } = BuildAll();

    /// <summary>
    /// Whether VMREAD/VMWRITE accept an encoding (including the high half of 64-bit fields) under a kernel: a field of
    /// KVM's <c>vmcs12_field_offsets</c>, whether or not the model gives it a meaning (KVM lets L1 read and write every
    /// vmcs12 field, offered feature or not); the CET state fields only from 6.18.
    /// </summary>
    public static bool IsSupported(uint encoding, KernelProfile profile) =>
        TryLocate(encoding, out var chunk, out var index, out _, out _)
        && (KernelProfiles.Vmcs12HasCetState(profile) || !IsCetField(chunk, index));

    /// <summary>The CET state fields (guest and host IA32_S_CET, SSP, interrupt SSP table address), in vmcs12 from 6.18.</summary>
    public static IReadOnlyList<uint> CetFields => CetEncodings;

    private static bool IsCetField(int chunk, int index) => ((CetIndices[chunk] >> index) & 1) != 0;

    /// <summary>Read-only fields (type 1, VM-exit information): VMWRITE to them fails with error 13.</summary>
    public static bool IsReadOnly(uint encoding) => ((encoding >> 10) & 3) == 1;

    /// <summary>Where a field lives: its chunk, index, width and whether the encoding names the high half.</summary>
    internal static bool TryLocate(uint encoding, out int chunk, out int index, out Width width, out bool high)
    {
        width = (Width)((encoding >> 13) & 3);
        var type = (int)((encoding >> 10) & 3);
        index = (int)((encoding >> 1) & 0x1FF);
        high = (encoding & 1) != 0;
        chunk = ((int)width * 4) + type;
        if ((encoding & 0xFFFF_9000) != 0 || index >= 32 || (high && width != Width.Bits64))
        {
            return false;
        }
        return (Supported[chunk] & (1u << index)) != 0;
    }

    private static uint[] BuildSupported()
    {
        uint[] fields =
        [
            VirtualProcessorId, PostedIntrNv,
            GuestEsSelector, GuestCsSelector, GuestSsSelector, GuestDsSelector, GuestFsSelector, GuestGsSelector,
            GuestLdtrSelector, GuestTrSelector, GuestIntrStatus, GuestPmlIndex,
            HostEsSelector, HostCsSelector, HostSsSelector, HostDsSelector, HostFsSelector, HostGsSelector, HostTrSelector,
            IoBitmapA, IoBitmapB, MsrBitmap, VmExitMsrStoreAddr, VmExitMsrLoadAddr, VmEntryMsrLoadAddr, PmlAddress,
            TscOffset, TscMultiplier, VirtualApicPageAddr, ApicAccessAddr, PostedIntrDescAddr, VmFunctionControl,
            EptPointer, EptpListAddress, VmreadBitmap, VmwriteBitmap, XssExitBitmap, EnclsExitingBitmap,
            GuestPhysicalAddress,
            VmcsLinkPointer, GuestIa32Debugctl, GuestIa32Pat, GuestIa32Efer, GuestIa32PerfGlobalCtrl, GuestBndcfgs,
            HostIa32Pat, HostIa32Efer, HostIa32PerfGlobalCtrl,
            PinBasedVmExecControl, CpuBasedVmExecControl, ExceptionBitmap, PageFaultErrorCodeMask,
            PageFaultErrorCodeMatch, Cr3TargetCount, VmExitControls, VmExitMsrStoreCount, VmExitMsrLoadCount,
            VmEntryControls, VmEntryMsrLoadCount, VmEntryIntrInfoField, VmEntryExceptionErrorCode,
            VmEntryInstructionLen, TprThreshold, SecondaryVmExecControl,
            VmInstructionError, VmExitReason, VmExitIntrInfo, VmExitIntrErrorCode, IdtVectoringInfoField,
            IdtVectoringErrorCode, VmExitInstructionLen, VmxInstructionInfo,
            GuestInterruptibilityInfo, GuestActivityState, GuestSysenterCs, VmxPreemptionTimerValue, HostIa32SysenterCs,
            Cr0GuestHostMask, Cr4GuestHostMask, Cr0ReadShadow, Cr4ReadShadow, ExitQualification, GuestLinearAddress,
            GuestCr0, GuestCr3, GuestCr4, GuestDr7, GuestRsp, GuestRip, GuestRflags, GuestPendingDbgExceptions,
            GuestSysenterEsp, GuestSysenterEip,
            HostCr0, HostCr3, HostCr4, HostFsBase, HostGsBase, HostTrBase, HostGdtrBase, HostIdtrBase,
            HostIa32SysenterEsp, HostIa32SysenterEip, HostRsp, HostRip,
            .. CetEncodings,
        ];
        var supported = new uint[ChunkCount];
        foreach (var f in fields)
        {
            Mark(supported, f);
        }
        // Ranges: guest segment limits, access rights and bases; EOI-exit bitmaps; PDPTEs. (The CR3-target values are not
        // vmcs12 fields: KVM dropped them, leaving dead space, so VMREAD/VMWRITE of 0x6008-0x600E is error 12.)
        for (var f = GuestEsLimit; f <= GuestIdtrLimit; f += 2)
        {
            Mark(supported, f);
        }
        for (var f = GuestEsArBytes; f <= GuestTrArBytes; f += 2)
        {
            Mark(supported, f);
        }
        for (var f = GuestEsBase; f <= GuestIdtrBase; f += 2)
        {
            Mark(supported, f);
        }
        for (var f = EoiExitBitmap0; f <= EoiExitBitmap3; f += 2)
        {
            Mark(supported, f);
        }
        for (var f = GuestPdptr0; f <= GuestPdptr3; f += 2)
        {
            Mark(supported, f);
        }
        return supported;
    }

    private static uint[] Marked(uint[] encodings)
    {
        var marked = new uint[ChunkCount];
        foreach (var f in encodings)
        {
            Mark(marked, f);
        }
        return marked;
    }

    private static void Mark(uint[] supported, uint encoding)
    {
        var chunk = ((int)((encoding >> 13) & 3) * 4) + (int)((encoding >> 10) & 3);
        supported[chunk] |= 1u << (int)((encoding >> 1) & 0x1FF);
    }

    private static int[] BuildLengths()
    {
        var lengths = new int[ChunkCount];
        for (var c = 0; c < ChunkCount; c++)
        {
            lengths[c] = 32 - System.Numerics.BitOperations.LeadingZeroCount(Supported[c]);
        }
        return lengths;
    }

    private static uint[] BuildAll()
    {
        var all = new List<uint>();
        for (var width = 0u; width < 4; width++)
        {
            for (var type = 0u; type < 4; type++)
            {
                var mask = Supported[(width * 4) + type];
                for (var index = 0u; index < 32; index++)
                {
                    if ((mask & (1u << (int)index)) != 0)
                    {
                        all.Add((width << 13) | (type << 10) | (index << 1));
                    }
                }
            }
        }
        return [.. all];
    }
}
