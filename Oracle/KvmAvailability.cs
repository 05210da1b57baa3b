namespace CpuidFunctional.Oracle;

/// <summary>Whether this machine offers a usable KVM: the opened system, or why not.</summary>
public abstract record KvmAvailability
{
    private KvmAvailability() { }

    /// <summary>/dev/kvm opened and answered KVM_GET_API_VERSION with 12.</summary>
    /// <param name="Kvm">The open system handle (the caller disposes it).</param>
    public sealed record Available(KvmSystem Kvm) : KvmAvailability;

    /// <summary>No usable KVM.</summary>
    /// <param name="Reason">What failed, e.g. "/dev/kvm: No such file or directory".</param>
    public sealed record Unavailable(string Reason) : KvmAvailability;
}
