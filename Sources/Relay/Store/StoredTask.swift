import CrynuxSDK
import Foundation

/// A task's row body in the store: the JSON object `JSONEncoder` wrote for `RelayTask` in earlier versions (sorted
/// keys, amounts as decimal strings, the seed as an array of bytes, absent optionals left out), written and read
/// here directly, without `Codable`, because every stored operation writes one and history reads parse them.
extension RelayTask {
    /// The stored JSON text.
    var storedJSON: String {
        var members: [JSONMember] = []
        members.reserveCapacity(26)
        func add(_ key: String, _ value: JSONValue?) { if let value { members.append(JSONMember(key, value)) } }
        add("abortReason", .integer(abortReason.rawValue))
        add("commitment", .string(commitment))
        add("createTime", .integer(createTime))
        add("creator", .string(creator))
        add("fee", .string(fee.decimalString))
        add("minVRAM", .integer(minVRAM))
        add("modelIDs", .array(modelIDs.map { .string($0) }))
        add("nonce", .string(nonce))
        add("priority", priority.isFinite ? .number("\(priority)") : .null)
        add("qosScore", qosScore.map { .integer($0) })
        add("requiredGPU", .string(requiredGPU))
        add("requiredGPUVRAM", .integer(requiredGPUVRAM))
        add("resultUploadedTime", resultUploadedTime.map { .integer($0) })
        add("samplingSeed", .array(samplingSeed.map { .integer($0) }))
        add("score", .string(score))
        add("scoreReadyTime", scoreReadyTime.map { .integer($0) })
        add("selectedNode", selectedNode.map { .string($0) })
        add("sequence", .integer(sequence))
        add("startTime", startTime.map { .integer($0) })
        add("status", .integer(status.rawValue))
        add("taskArgs", .string(taskArgs))
        add("taskError", .integer(taskError))
        add("taskID", taskID.map { .string($0) })
        add("taskSize", .integer(taskSize))
        add("taskType", .integer(taskType.rawValue))
        add("taskVersion", .string(taskVersion))
        add("timeout", .integer(timeout))
        add("validatedTime", validatedTime.map { .integer($0) })
        return JSONValue.object(members).compactText
    }

    /// A task read from its stored JSON text.
    init(storedJSON text: String) throws {
        guard case .object(let members) = try JSONValue.parse(Array(text.utf8)) else { throw RelayStoreError("a task row is not an object") }
        var fields: [String: JSONValue] = [:]
        for member in members { fields[member.key] = member.value }
        func value(_ key: String) throws -> JSONValue {
            guard let value = fields[key] else { throw RelayStoreError("a task row lacks \(key)") }
            return value
        }
        func string(_ key: String) throws -> String {
            guard let text = try value(key).stringValue else { throw RelayStoreError("a task row's \(key) is not a string") }
            return text
        }
        func integer<I: FixedWidthInteger>(_ key: String, _: I.Type = I.self) throws -> I {
            guard case .number(let literal) = try value(key), let number = I(literal) else { throw RelayStoreError("a task row's \(key) is not an integer") }
            return number
        }
        func optional<I: FixedWidthInteger>(_ key: String, _: I.Type = I.self) throws -> I? {
            guard let found = fields[key], found != .null else { return nil }
            guard case .number(let literal) = found, let number = I(literal) else { throw RelayStoreError("a task row's \(key) is not an integer") }
            return number
        }
        guard case .array(let seed) = try value("samplingSeed"), case .array(let models) = try value("modelIDs") else {
            throw RelayStoreError("a task row's seed or models are not arrays")
        }
        guard let type = TaskType(rawValue: try integer("taskType")), let status = TaskStatus(rawValue: try integer("status")),
            let abortReason = AbortReason(rawValue: try integer("abortReason")), let fee = Wei(decimal: try string("fee"))
        else { throw RelayStoreError("a task row has an unknown type, status, reason or fee") }
        let seedBytes = try seed.map { byte -> UInt8 in
            guard case .number(let literal) = byte, let b = UInt8(literal) else { throw RelayStoreError("a task row's seed is not bytes") }
            return b
        }
        self.init(
            sequence: try integer("sequence"), commitment: try string("commitment"), creator: try string("creator"), taskArgs: try string("taskArgs"),
            taskType: type, nonce: try string("nonce"), modelIDs: models.compactMap(\.stringValue), minVRAM: try integer("minVRAM"),
            requiredGPU: try string("requiredGPU"), requiredGPUVRAM: try integer("requiredGPUVRAM"), taskVersion: try string("taskVersion"),
            taskSize: try integer("taskSize"), fee: fee, samplingSeed: seedBytes, priority: fields["priority"]?.doubleValue ?? 0,
            timeout: try integer("timeout"), createTime: try integer("createTime"))
        self.status = status
        self.abortReason = abortReason
        taskError = try integer("taskError")
        score = try string("score")
        qosScore = try optional("qosScore")
        selectedNode = fields["selectedNode"]?.stringValue
        startTime = try optional("startTime")
        scoreReadyTime = try optional("scoreReadyTime")
        validatedTime = try optional("validatedTime")
        resultUploadedTime = try optional("resultUploadedTime")
        taskID = fields["taskID"]?.stringValue
    }
}
