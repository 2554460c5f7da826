/// A task's identity on the relay: the task id, the nonce and the commitment that hides them.
///
/// `task_id_commitment = 0x + lowercase hex(keccak256(task_id ‖ nonce))`. The three members of a
/// validation group share one task id and differ in their nonces.
public struct TaskIdentity: Sendable, Hashable {
    /// The 32-byte task id (the "task GUID").
    public let taskID: [UInt8]
    /// The 32-byte nonce.
    public let nonce: [UInt8]

    /// Combines a task id and a nonce, each 32 bytes.
    public init(taskID: [UInt8], nonce: [UInt8]) {
        precondition(taskID.count == 32 && nonce.count == 32, "task id and nonce are 32 bytes each")
        self.taskID = taskID
        self.nonce = nonce
    }

    /// Reads a task id and nonce written as hex (`0x` optional); each must be 32 bytes.
    public init(taskIDHex: String, nonceHex: String) throws(TaskIdentityError) {
        guard let id = Hex.decode(taskIDHex.trimmingWhitespace, count: 32) else {
            throw TaskIdentityError(message: "task id must be 32 bytes of hex (0x + 64 digits)")
        }
        guard let nonce = Hex.decode(nonceHex.trimmingWhitespace, count: 32) else {
            throw TaskIdentityError(message: "nonce must be 32 bytes of hex (0x + 64 digits)")
        }
        self.init(taskID: id, nonce: nonce)
    }

    /// A new task with a random id and nonce from the system CSPRNG.
    public static func random() -> TaskIdentity {
        TaskIdentity(taskID: secureRandomBytes(32), nonce: secureRandomBytes(32))
    }

    /// A validation copy: the same task id with a fresh random nonce.
    public func withFreshNonce() -> TaskIdentity {
        TaskIdentity(taskID: taskID, nonce: secureRandomBytes(32))
    }

    /// The 32-byte commitment.
    public var commitment: [UInt8] { Keccak256.hash(taskID + nonce) }

    /// The task id as `0x` + 64 lowercase hex digits.
    public var taskIDHex: String { Hex.encode(taskID, prefix: true) }
    /// The nonce as `0x` + 64 lowercase hex digits.
    public var nonceHex: String { Hex.encode(nonce, prefix: true) }
    /// The commitment as `0x` + 64 lowercase hex digits, as the relay compares it.
    public var commitmentHex: String { Hex.encode(commitment, prefix: true) }
}

/// A task id or nonce that is not 32 bytes of hex.
public struct TaskIdentityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
