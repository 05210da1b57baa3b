using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>The steps and expectations of scenario language v2 that the peers' tests need (docs/scenarios.md).</summary>
public class ScenarioLanguageTests
{
    private static ScenarioReport Run(string text, HostCpu? host = null) =>
        ScenarioRunner.Run(Assert.IsType<Result<Scenario>.Ok>(ScenarioParser.Parse(text, "t.scn")).Value, host ?? HostPresets.SkylakeSp);

    private static void Passes(string text)
    {
        var report = Run(text);
        Assert.True(report.Passed, report.ToString());
    }

    private static ScenarioFailure Fails(string text) => Assert.IsType<ScenarioFailure>(Run(text).Failure);

    private const string MwaitOwnedByMsr =
        "host skylake-sp\ndisable-quirks2 MISC_ENABLE_NO_MWAIT\nguest-cpuid set 1 ecx.MWAIT=1\nset-cpuid2\nget-cpuid2\n";

    [Fact]
    public void Quirks_are_per_VM_so_a_new_VM_starts_with_every_quirk_in_effect()
    {
        // In the first VM the MSR owns MWAIT (0 at RESET); in the second, userspace's bit stands.
        Passes(MwaitOwnedByMsr + "expect entry 1 ecx.MWAIT=0\nvm\nguest-cpuid set 1 ecx.MWAIT=1\nset-cpuid2\nget-cpuid2\nexpect entry 1 ecx.MWAIT=1\n");
    }

    [Fact]
    public void A_new_VM_starts_from_the_hosts_table_and_a_fresh_vCPU()
    {
        Passes(
            "host skylake-sp\nguest-cpuid drop 0xd\nset-cpuid2\nrun\nset-sregs cr4=PKE\n"
            + "vm\nset-cpuid2\nexpect ok\nget-sregs\nexpect sregs cr4=0\nget-cpuid2\nexpect entry 0xd.0 ebx=576\n"
        );
    }

    [Fact]
    public void A_VM_may_have_its_own_kernel()
    {
        // KVM supports the CET user bit of IA32_XSS from 6.18 only: the second VM's kernel decides.
        var report = Run("host sapphire-rapids\nkernel 6.18\nset-cpuid2\nset-msrs XSS=CET_U\nexpect ok 1\nvm kernel 6.15\nset-cpuid2\nset-msrs XSS=CET_U\nexpect ok 0\n", HostPresets.SapphireRapids);
        Assert.True(report.Passed, report.ToString());
    }

    [Fact]
    public void A_quirk_disabled_before_the_vCPU_exists_acts_as_one_disabled_before_KVM_SET_CPUID2()
    {
        var before = Run("host skylake-sp\nvm\ndisable-quirks2 MISC_ENABLE_NO_MWAIT\nexpect ok\ncreate-vcpu\nguest-cpuid set 1 ecx.MWAIT=1\nset-cpuid2\nget-cpuid2\nexpect entry 1 ecx.MWAIT=0\n");
        Assert.True(before.Passed, before.ToString());
        Passes(MwaitOwnedByMsr + "expect entry 1 ecx.MWAIT=0\n");
    }

    [Fact]
    public void A_wrong_KVM_CHECK_EXTENSION_answer_names_the_ioctl_and_both_values()
    {
        var failure = Fails("host skylake-sp\nrun\ncheck-extension XSAVE2\nexpect ok 0x2b00\n");

        Assert.Equal(4, failure.Line);
        Assert.Contains("after 'KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)' expected ok 11008, got ok 4096", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KVM_CHECK_EXTENSION_answers_for_the_VM_it_follows()
    {
        // The process's AMX permission is the file's; the kernel is the VM's.
        var report = Run(
            "host sapphire-rapids\ncheck-extension XSAVE2\nexpect ok 0x2b00\ncheck-extension DISABLE_QUIRKS2\nexpect ok 0x7ff\n"
            + "vm kernel 6.1\ncheck-extension DISABLE_QUIRKS2\nexpect ok 0x7f\n",
            HostPresets.SapphireRapids);
        Assert.True(report.Passed, report.ToString());
        Assert.False(Run("host sapphire-rapids\nxcomp-guest-perm none\ncheck-extension XSAVE2\nexpect ok 0x2b00\n", HostPresets.SapphireRapids).Passed);
    }

    [Fact]
    public void A_refused_KVM_SET_SREGS_changes_nothing_so_GET_SREGS_reads_the_old_values()
    {
        Passes(
            "host skylake-sp\nset-cpuid2\nset-sregs cr0=0x10 cr4=OSXSAVE\nexpect ok\n"
            + "set-sregs cr0=0x20000010 cr4=PKE apic-base=0x800\nexpect EINVAL\n" // NW without CD
            + "set-sregs cr0=0x80000010\nexpect EINVAL\n" // PG without PE
            + "set-sregs cr0=0x100000010\nexpect EINVAL\n" // a bit above 31
            + "set-sregs efer=0x400\nexpect EINVAL\n" // LMA without LME and PG
            + "get-sregs\nexpect sregs cr0=0x10 cr4=OSXSAVE efer=0 apic-base=APIC_DEFAULT\n"
            + "get-cpuid2\nexpect entry 1 ecx.OSXSAVE=1\nexpect entry 7.0 ecx.OSPKE=0\n"
        );
    }

    [Fact]
    public void An_expected_sregs_field_that_differs_is_named_with_both_values()
    {
        var failure = Fails("host skylake-sp\nset-cpuid2\nget-sregs\nexpect sregs cr0=0x10 cr4=0\n");

        Assert.Equal(4, failure.Line);
        Assert.Contains("cr0: expected 0x10, got 0x60000010", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void INIT_keeps_CD_and_NW_and_RESET_sets_them_while_both_clear_EFER()
    {
        Passes(
            "host skylake-sp\nset-cpuid2\nset-sregs cr0=0x80000011 cr4=PAE efer=0x500\ninit\nget-sregs\nexpect sregs cr0=0x10 efer=0\n"
            + "set-sregs cr0=0x60000011\ninit\nget-sregs\nexpect sregs cr0=0x60000010\nset-sregs cr0=0x11\nreset\nget-sregs\nexpect sregs cr0=0x60000010\n"
        );
    }

    [Fact]
    public void KVM_GET_CPUID2_sets_nent_on_success_and_leaves_the_callers_nent_on_E2BIG()
    {
        var n = HostPresets.SkylakeSp.Cpuid.Count;
        Passes($"host skylake-sp\nset-cpuid2\nget-cpuid2\nexpect nent {n}\nget-cpuid2 {n - 1}\nexpect E2BIG\nexpect nent {n - 1}\nget-cpuid2 0\nexpect nent 0\n");
        Assert.Contains($"nent: expected {n}, got 3", Fails($"host skylake-sp\nset-cpuid2\nget-cpuid2 3\nexpect nent {n}\n").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Entry_flags_show_the_significant_index_flag_and_unflag_clears_it()
    {
        Passes("host skylake-sp\nset-cpuid2\nget-cpuid2\nexpect entry 0xd.1 flags=1\nexpect entry 1 flags=0\n");
        // Unflagged, 0xD.0 comes first in the table and answers every sub-leaf, 0xD.1 included.
        Passes("host skylake-sp\nguest-cpuid unflag 0xd.0\nset-cpuid2\nget-cpuid2\nexpect entry 0xd.0 flags=0\nexpect entry 0xd.1 flags=0\n");
        Assert.Contains("flags expected 0x0, got 0x1", Fails("host skylake-sp\nset-cpuid2\nget-cpuid2\nexpect entry 7.0 flags=0\n").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_added_KVM_PV_leaf_is_answered_and_an_existing_entry_cannot_be_added_again()
    {
        Passes(
            "host skylake-sp\nguest-cpuid add 0x40000000 eax=0x40000001 ebx=0x4b4d564b ecx=0x564b4d56 edx=0x4d\n"
            + "guest-cpuid add 0x40000001 eax=0x1\nset-cpuid2\ncpuid 0x40000000\nexpect eax=0x40000001 ebx=0x4b4d564b\nget-cpuid2\nexpect entry 0x40000001 eax=1 flags=0\n"
        );
        var failure = Fails("host skylake-sp\nguest-cpuid add 0xd.1 eax=1\nset-cpuid2\n");
        Assert.Equal(2, failure.Line);
    }

    [Fact]
    public void A_table_of_more_than_256_entries_is_refused_with_E2BIG_and_256_are_accepted()
    {
        var n = HostPresets.SkylakeSp.Cpuid.Count;
        Passes($"host skylake-sp\nguest-cpuid fill 0x40000100 {257 - n}\nset-cpuid2\nexpect E2BIG\nguest-cpuid host\nguest-cpuid fill 0x40000100 {256 - n}\nset-cpuid2\nexpect ok\nget-cpuid2\nexpect nent 256\n");
    }

    [Fact]
    public void A_guest_MOV_from_CR4_reads_CR4_at_CPL_0_and_faults_above()
    {
        Passes("host skylake-sp\nset-cpuid2\nrun\nmov-cr4 OSXSAVE|PKE\nmov-from-cr4\nexpect cr4 OSXSAVE|PKE\ncpl 3\nmov-from-cr4\nexpect #GP\n");
    }

    [Fact]
    public void A_guest_MOV_from_CR4_in_L2_reads_the_CR4_the_entry_loaded()
    {
        Passes("host sapphire-rapids\nset-cpuid2\nrun\nmov-cr4 OSXSAVE|VMXE\nvmentry VMXE\nmov-from-cr4\nexpect cr4 VMXE\nvmexit OSXSAVE|VMXE\nmov-from-cr4\nexpect cr4 OSXSAVE|VMXE\n");
    }
}
