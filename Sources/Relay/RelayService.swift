import CrynuxSDK
import Foundation

/// The running relay: the state machine behind an actor, every accepted change committed to the store before
/// it is visible, result files kept on disk, and the matching/deadline tick.
public actor RelayService {
    private var state: RelayState
    private let store: RelayStore
    /// The clock.
    public nonisolated let clock: any RelayClock
    /// Where result files live (`inference_tasks/<commitment>/results/<i>.json|png`), or nil to keep them in memory.
    public nonisolated let dataDirectory: String?
    /// Queue length, tasks and nodes by state, dispatch and request latency, for `/metrics`.
    public nonisolated let metrics = RelayMetrics()
    /// The signed messages accepted within the signature window (a write's signature works once).
    nonisolated let replayGuard = ReplayGuard()
    /// Bumped after every committed change: long-polling requests wait on it.
    nonisolated let changes = ChangeSignal()
    /// The token streams of running tasks (our extension, docs/protocol.md §8).
    nonisolated let streams = TokenStreams()
    private var memoryFiles: [String: [[UInt8]]] = [:]
    /// When each task created by this process entered the queue (monotonic), until it is dispatched.
    private var queuedAt: [String: ContinuousClock.Instant] = [:]

    /// A relay over `store`, restoring what it holds (or starting empty with `seed`).
    public init(store: RelayStore, config: RelayConfig = RelayConfig(), clock: any RelayClock = SystemRelayClock(), seed: UInt64, dataDirectory: String?) throws {
        self.store = store
        self.clock = clock
        self.dataDirectory = dataDirectory
        state = try store.load(config: config, seed: seed)
        state.config = config
    }

    /// Runs `body` on the state, then stores the rows it changed in one transaction. If `body` throws or the
    /// store refuses, every change is put back. The cost is that of what `body` touched, not of the relay's size.
    public func perform<T: Sendable>(_ body: (inout RelayState, Int64) throws(RelayError) -> T) throws -> T {
        let now = clock.now()
        state.begin(now: now)
        let value: T
        let changed: RelayState.Changes
        do {
            value = try body(&state, now)
            changed = state.changes()
            try store.save(changed)
        } catch {
            state.rollBack()
            throw error
        }
        state.end()
        if !changed.isEmpty { changes.bump() }
        return value
    }

    /// Every task the relay has, finished ones included, in creation order (read from the store: for tools and tests).
    public func allTasks() throws -> [RelayTask] { try store.allTasks() }

    /// Events with `id >= start`, at most `limit`, optionally of one type, node or task (read from the store).
    public func events(from start: Int, limit: Int, type: String?, node: String?, task: String?) throws(RelayError) -> [RelayEvent] {
        do { return try store.events(from: start, limit: limit, type: type, node: node, task: task) } catch { throw .storage(error) }
    }

    /// Reads the state.
    public func read<T: Sendable>(_ body: (RelayState) throws(RelayError) -> T) throws(RelayError) -> T { try body(state) }

    /// One matching round and the deadline check, committed.
    @discardableResult
    public func tick() throws -> [String] {
        let (started, ended) = try perform { state, now in
            let ended = state.expireDeadlines(now: now)
            let started = state.dispatch(now: now)
            state.distributeModels(now: now)
            return (started, ended)
        }
        // A stream lives while its task runs; the window goes once the task has ended (or is unknown).
        let tasks = state.tasks
        streams.prune { tasks[$0].map { !$0.status.isTerminal } ?? false }
        let now = ContinuousClock.now
        for commitment in started + ended {
            if let since = queuedAt.removeValue(forKey: commitment), started.contains(commitment) { metrics.dispatched(after: now - since) }
        }
        return started + ended
    }

    /// Creates a task for `creator` (it starts queued; the next `tick` may dispatch it).
    @discardableResult
    public func createTask(_ new: RelayState.NewTask, creator: String) throws -> RelayTask {
        let task = try perform { state, now throws(RelayError) in try state.createTask(new, creator: creator, now: now) }
        if queuedAt.count >= 50_000 { queuedAt.removeAll() }  // bounded: entries of tasks cancelled in the queue are never claimed
        queuedAt[task.commitment] = .now
        return task
    }

    /// The gauges of `/metrics` read from the state now, then the exposition text.
    public func metricsExposition() -> [UInt8] {
        metrics.exposition(state: state)
    }

    /// Closes the database (the service must not be used afterwards).
    public func close() throws { try store.close() }

    /// Accepts a node's result files: they are staged beside the task's results, the state change is committed, and
    /// only then are they moved into place. A refused upload (a stranger's, a wrong score, the wrong state) touches no
    /// result file; the staged copies are removed.
    public func uploadResults(_ commitment: String, files: [[UInt8]], by node: String) throws {
        let type = try read { state throws(RelayError) in
            guard let task = try state.lookup(commitment) else { throw .notFound("Task not found") }
            return task.taskType
        }
        let staged = try stageFiles(commitment, files, type: type)
        do {
            try perform { state, now throws(RelayError) in
                try state.uploadResults(commitment, files: files, by: node, now: now) { type, files in try ResultScores.score(type, files) }
            }
        } catch {
            if let staged { try? FileManager.default.removeItem(atPath: staged.directory) }
            throw error
        }
        guard let staged else {
            memoryFiles[commitment] = files
            return
        }
        try publish(staged, to: resultsDirectory(commitment))
    }

    /// Staged result files: a private folder of their own, and each file's final name.
    struct StagedFiles {
        var directory: String
        var names: [String]
    }

    /// `inference_tasks/<commitment>/results` in the data directory.
    func resultsDirectory(_ commitment: String) -> String { "\(dataDirectory ?? "")/inference_tasks/\(commitment)/results" }

    /// Writes `files` into a new staging folder beside the task's results (nil when files are kept in memory).
    private func stageFiles(_ commitment: String, _ files: [[UInt8]], type: TaskType) throws -> StagedFiles? {
        guard let dataDirectory else { return nil }
        let directory = "\(dataDirectory)/inference_tasks/\(commitment)/.upload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var names: [String] = []
        do {
            for (i, file) in files.enumerated() {
                let name = "\(i).\(type == .llm ? "json" : "png")"
                guard FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(file), attributes: [.posixPermissions: 0o600]) else {
                    throw RelayStoreError("cannot write a result file in \(directory)")
                }
                names.append(name)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        return StagedFiles(directory: directory, names: names)
    }

    /// Moves staged files into `results` (each by one rename), then removes the staging folder.
    private func publish(_ staged: StagedFiles, to results: String) throws {
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in staged.names {
            guard rename(staged.directory + "/" + name, results + "/" + name) == 0 else {
                throw RelayStoreError("cannot move the accepted result \(name) into \(results): errno \(errno)")
            }
        }
        try? FileManager.default.removeItem(atPath: staged.directory)
    }

    /// Result file `index` of a finished task, for its creator.
    public func result(_ commitment: String, index: Int, for creator: String) throws -> [UInt8] {
        let task = try read { state throws(RelayError) in try state.task(commitment, for: creator) }
        guard task.creator == creator else { throw RelayError.forbidden("Signer not allowed") }
        guard task.status == .endSuccess || task.status == .endGroupSuccess else { throw RelayError.validation("task_id_commitment", "Task results not uploaded") }
        if dataDirectory != nil {
            let path = "\(resultsDirectory(commitment))/\(index).\(task.taskType == .llm ? "json" : "png")"
            guard let data = FileManager.default.contents(atPath: path) else { throw RelayError.notFound("Result file not found") }
            return Array(data)
        }
        guard let files = memoryFiles[commitment], index >= 0, index < files.count else { throw RelayError.notFound("Result file not found") }
        return files[index]
    }
}
