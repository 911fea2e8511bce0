/// Thrown by ``PreparedWorkload/verify()`` when a workload does not do the work it claims to.
public struct WorkloadVerificationError: Error, CustomStringConvertible {
    /// The workload's name.
    public let workload: String
    /// What went wrong.
    public let message: String

    /// `workload NAME: MESSAGE`.
    public var description: String { "workload \(workload): \(message)" }
}
