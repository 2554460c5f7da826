import CrynuxSDK
import Foundation

/// A dictionary that, while an operation is open, remembers the value each key had before the operation first
/// changed it: the store writes only those keys, and a refused operation puts them back.
public struct JournaledTable<Key: Hashable & Sendable, Value: Sendable & Equatable>: Sendable, Sequence, Equatable {
    private(set) var storage: [Key: Value] = [:]
    /// The values before the open operation changed them (nil outside an operation).
    private(set) var journal: [Key: Value?]?

    init(_ storage: [Key: Value] = [:]) { self.storage = storage }

    /// The value for `key`.
    public subscript(key: Key) -> Value? {
        get { storage[key] }
        set {
            if journal != nil, journal!.index(forKey: key) == nil { journal![key] = .some(storage[key]) }
            storage[key] = newValue
        }
    }

    /// Every value.
    public var values: Dictionary<Key, Value>.Values { storage.values }
    /// Every key.
    public var keys: Dictionary<Key, Value>.Keys { storage.keys }
    /// How many keys.
    public var count: Int { storage.count }
    /// Whether there are none.
    public var isEmpty: Bool { storage.isEmpty }
    /// Iterates `(key, value)` pairs.
    public func makeIterator() -> Dictionary<Key, Value>.Iterator { storage.makeIterator() }
    /// Same contents.
    public static func == (a: Self, b: Self) -> Bool { a.storage == b.storage }

    mutating func beginJournal() { journal = [:] }

    /// The keys whose value differs from the one they had when the operation began, with the new value (nil: removed).
    func changes() -> [(key: Key, value: Value?)] {
        (journal ?? [:]).compactMap { key, before in storage[key] == before ? nil : (key, storage[key]) }
    }

    /// Puts back what the open operation changed.
    mutating func rollBack() {
        for (key, before) in journal ?? [:] { storage[key] = before }
        journal = nil
    }

    mutating func endJournal() { journal = nil }
}

/// The tasks the relay holds in memory (queued and running work, plus finished tasks an open operation touched),
/// with the indexes its operations need: the dispatch queue in order, queued tasks per creator, validation groups
/// by task id, and how many tasks are in each state (history included, once counted by the store).
public struct TaskTable: Sendable, Sequence, Equatable {
    /// Dispatch order: higher priority first, then creation order.
    struct QueueKey: Sendable, Hashable, Comparable {
        var priority: Double
        var sequence: Int
        var commitment: String
        init(_ task: RelayTask) {
            priority = task.priority.isNaN ? -.infinity : task.priority
            sequence = task.sequence
            commitment = task.commitment
        }
        static func < (a: Self, b: Self) -> Bool { a.priority != b.priority ? a.priority > b.priority : a.sequence < b.sequence }
    }

    /// A queued task of one model, ordered by creation.
    struct ModelQueueEntry: Sendable, Hashable, Comparable {
        var sequence: Int
        var commitment: String
        static func < (a: Self, b: Self) -> Bool { a.sequence < b.sequence }
    }

    private(set) var storage: [String: RelayTask] = [:]
    private(set) var journal: [String: RelayTask?]?
    /// Queued tasks in dispatch order.
    private(set) var queue: [QueueKey] = []
    /// How many tasks each creator has queued.
    private(set) var queuedByCreator: [String: Int] = [:]
    /// Queued tasks by base model, in creation order (`sequence`, `commitment`).
    private(set) var queuedByModel: [String: [ModelQueueEntry]] = [:]
    /// Commitments held here that carry a task id, by task id.
    private(set) var byTaskID: [String: Set<String>] = [:]
    /// Commitments held here that are terminal (to be dropped from memory once their operation is stored).
    private(set) var terminal: Set<String> = []
    /// Tasks in each state: every task this relay has, history included.
    public internal(set) var statusCounts: [TaskStatus: Int] = [:]

    init() {}

    /// The task with `commitment`, if held in memory.
    public subscript(commitment: String) -> RelayTask? {
        get { storage[commitment] }
        set {
            if journal != nil, journal!.index(forKey: commitment) == nil { journal![commitment] = .some(storage[commitment]) }
            replace(commitment, with: newValue, counting: true)
        }
    }

    /// Every task held in memory.
    public var values: Dictionary<String, RelayTask>.Values { storage.values }
    /// How many tasks are held in memory.
    public var count: Int { storage.count }
    /// Iterates `(commitment, task)` pairs held in memory.
    public func makeIterator() -> Dictionary<String, RelayTask>.Iterator { storage.makeIterator() }
    /// Same tasks held.
    public static func == (a: Self, b: Self) -> Bool { a.storage == b.storage }

    /// Queued commitments in dispatch order.
    public var queuedInOrder: [String] { queue.map(\.commitment) }
    /// The first `n` queued commitments in dispatch order.
    public func queued(first n: Int) -> [String] { queue.prefix(n).map(\.commitment) }
    /// How many tasks are queued.
    public var queuedCount: Int { queue.count }
    /// Tasks dispatched and not yet finished.
    public var runningCount: Int { statusCounts.reduce(0) { $0 + ($1.key != .queued && !$1.key.isTerminal ? $1.value : 0) } }

    /// Holds a task read from the store (already counted there): no journal entry, no count.
    mutating func adopt(_ task: RelayTask) {
        guard storage[task.commitment] == nil else { return }
        replace(task.commitment, with: task, counting: false)
    }

    /// Drops the terminal tasks from memory (they are in the store); returns how many.
    @discardableResult
    mutating func evictTerminal() -> Int {
        let gone = terminal
        for commitment in gone { replace(commitment, with: nil, counting: false) }
        return gone.count
    }

    mutating func beginJournal() { journal = [:] }

    /// The tasks the open operation changed, as they are now.
    func changes() -> [RelayTask] {
        (journal ?? [:]).compactMap { commitment, before in
            guard let now = storage[commitment], now != before else { return nil }
            return now
        }
    }

    /// Puts back what the open operation changed.
    mutating func rollBack() {
        for (commitment, before) in journal ?? [:] { replace(commitment, with: before, counting: true) }
        journal = nil
    }

    mutating func endJournal() { journal = nil }

    private mutating func replace(_ commitment: String, with new: RelayTask?, counting: Bool) {
        if let old = storage[commitment] {
            unindex(old)
            if counting {
                let left = statusCounts[old.status, default: 0] - 1
                statusCounts[old.status] = left != 0 ? left : nil
            }
        }
        storage[commitment] = new
        if let new {
            index(new)
            if counting { statusCounts[new.status, default: 0] += 1 }
        }
    }

    private mutating func index(_ task: RelayTask) {
        if task.status == .queued {
            let key = QueueKey(task)
            queue.insert(key, at: Self.insertionPoint(key, in: queue))
            queuedByCreator[task.creator, default: 0] += 1
            let entry = ModelQueueEntry(sequence: task.sequence, commitment: task.commitment)
            queuedByModel[task.baseModel, default: []].insert(entry, at: Self.insertionPoint(entry, in: queuedByModel[task.baseModel] ?? []))
        }
        if task.status.isTerminal { terminal.insert(task.commitment) }
        if let id = task.taskID { byTaskID[id, default: []].insert(task.commitment) }
    }

    private mutating func unindex(_ task: RelayTask) {
        if task.status == .queued {
            let key = QueueKey(task)
            let at = Self.insertionPoint(key, in: queue)
            if at < queue.count, queue[at] == key { queue.remove(at: at) }
            let left = (queuedByCreator[task.creator] ?? 1) - 1
            queuedByCreator[task.creator] = left > 0 ? left : nil
            let entry = ModelQueueEntry(sequence: task.sequence, commitment: task.commitment)
            if var entries = queuedByModel[task.baseModel] {
                let at = Self.insertionPoint(entry, in: entries)
                if at < entries.count, entries[at] == entry { entries.remove(at: at) }
                queuedByModel[task.baseModel] = entries.isEmpty ? nil : entries
            }
        }
        if task.status.isTerminal { terminal.remove(task.commitment) }
        if let id = task.taskID {
            byTaskID[id]?.remove(task.commitment)
            if byTaskID[id]?.isEmpty == true { byTaskID[id] = nil }
        }
    }

    /// The first position in sorted `array` whose element does not come before `key`.
    private static func insertionPoint<T: Comparable>(_ key: T, in array: [T]) -> Int {
        var low = 0, high = array.count
        while low < high {
            let mid = (low + high) / 2
            if array[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
