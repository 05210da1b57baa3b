using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// Nested SVM in the mutable baseline: Core's <c>NestedSvmVmrun</c>, <c>NestedSvmVmexit</c> and
/// <see cref="Kvm.NestedSvmIntercept"/> again, on this object's fields in place (what Core keeps in <see cref="Vcpu.Svm"/>).
/// </summary>
internal sealed partial class MutableKvm
{
    // ---- while L2 runs under nested SVM (Core's NestedSvm); both change only at VMRUN and #VMEXIT ----
    private bool svmGuest;                    // guest mode entered by VMRUN (not by a VMX entry)
    private Vmcb12Intercepts svmIntercepts;   // vmcb12's CPUID/XSETBV intercepts
    private ulong vmcb01Cr4;                  // L1's CR4, saved at VMRUN and restored by #VMEXIT
    private readonly bool hostHasNrips;       // the host's CPUID has NRIPS (kvm_cpu_cap_has(X86_FEATURE_NRIPS))

    /// <summary><c>svm->nrips_enabled</c>, as <see cref="Kvm.NestedSvmNripsEnabled"/>: the host and the guest's CPUID have NRIPS.</summary>
    public bool NestedSvmNripsEnabled => hostHasNrips && guestNrips;

    /// <summary>Guest mode entered by VMRUN (Core's <see cref="Vcpu.Svm"/> is set).</summary>
    public bool SvmGuest => GuestMode && svmGuest;

    /// <summary><c>nested_svm_intercept</c> for CPUID and XSETBV: in SVM guest mode, whether vmcb12 intercepts the instruction.</summary>
    public bool NestedSvmIntercept(Vmcb12Intercepts instruction) => SvmGuest && (svmIntercepts & instruction) != 0;

    /// <summary>
    /// VMRUN after vmcb12's checks: false for #GP at CPL &gt; 0 (nothing changes); else L1's CR4 goes to vmcb01 and
    /// save.cr4 is loaded through <c>svm_set_cr4</c>. Only called at L1 (in L2, VMRUN exits to L1 first).
    /// </summary>
    public bool NestedSvmVmrun(ulong saveCr4, Vmcb12Intercepts intercepts)
    {
        Events++;
        if (Cpl != 0)
        {
            return false;
        }
        svmGuest = true;
        svmIntercepts = intercepts;
        vmcb01Cr4 = Cr4;
        GuestMode = true;
        VendorSetCr4(saveCr4);
        return true;
    }

    /// <summary><c>svm_leave_nested</c> (EFER.SVME cleared in L2): out of guest mode, CR4 as it is.</summary>
    private void LeaveSvmNested()
    {
        svmGuest = false;
        svmIntercepts = Vmcb12Intercepts.None;
        GuestMode = false;
    }

    /// <summary>#VMEXIT: leave guest mode, L1's CR4 back from vmcb01 through <c>svm_set_cr4</c>; nothing outside SVM guest mode.</summary>
    public void NestedSvmVmexit()
    {
        Events++;
        if (!SvmGuest)
        {
            return;
        }
        svmGuest = false;
        svmIntercepts = Vmcb12Intercepts.None;
        GuestMode = false;
        VendorSetCr4(vmcb01Cr4);
    }
}
