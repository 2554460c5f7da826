import Crypto
import Foundation

/// What an application asks the network to run.
public struct TaskRequest: Sendable, Hashable, Codable {
    /// SD, LLM or SD fine-tuning.
    public var taskType: TaskType
    /// Task arguments, JSON text.
    public var taskArgs: String
    /// Model ids (exactly one `base:`).
    public var modelIDs: [String]
    /// The fee per relay task.
    public var fee: Wei
    /// Minimum VRAM in GB.
    public var minVRAM: Int
    /// `major.minor.patch`.
    public var taskVersion: String
    /// Images for SD, 1 for LLM (also the number of result files).
    public var taskSize: Int
    /// Independent attempts run at once; the first result wins (the reference bridge's `repeat_num`).
    public var repeats: Int

    /// Creates a request.
    public init(
        taskType: TaskType, taskArgs: String, modelIDs: [String], fee: Wei, minVRAM: Int = 0, taskVersion: String = "3.1.0", taskSize: Int = 1,
        repeats: Int = 1
    ) {
        self.taskType = taskType
        self.taskArgs = taskArgs
        self.modelIDs = modelIDs
        self.fee = fee
        self.minVRAM = minVRAM
        self.taskVersion = taskVersion
        self.taskSize = taskSize
        self.repeats = repeats
    }

    /// The most the run can cost the wallet: every attempt may become a validation group of three relay tasks,
    /// each charged its fee when it succeeds, is invalidated or is left unvalidated.
    public var maximumCost: Wei { fee * UInt64(max(repeats, 1) * 3) }
}

/// A finished task: the result files and where they came from.
public struct TaskResult: Sendable, Hashable {
    /// The relay task whose files these are.
    public var commitment: String
    /// The files, in index order (`0.json`, or `0.png` …).
    public var files: [[UInt8]]
    /// Whether a validation group of three agreed on it.
    public var groupValidated: Bool
    /// The text the node streamed for each choice, when the run read its token stream.
    public var streamed: [Int: String]? = nil
}

/// Progress of `CrynuxClient.run`, in order for each attempt.
public enum TaskEvent: Sendable, Hashable {
    /// A relay task was created (`attempt` from 0).
    case created(attempt: Int, commitment: String)
    /// A node was selected.
    case started(attempt: Int, commitment: String, node: String)
    /// The VRF asked for a validation group; the two copies were created.
    case validationGroup(attempt: Int, commitments: [String])
    /// The node's score (or error report) arrived.
    case scored(attempt: Int, commitment: String)
    /// The creator's validation was accepted.
    case validated(attempt: Int)
    /// The results were downloaded: the run is over.
    case downloaded(attempt: Int, commitment: String)
    /// An attempt ended without a result.
    case failed(attempt: Int, reason: String)
}

/// What `CrynuxClient` keeps about a run so its owner can persist it and resume after a restart.
public struct ClientTaskState: Sendable, Hashable, Codable {
    /// One attempt: its task id and the commitments/nonces of its relay tasks (1, or 3 for a group).
    public struct Attempt: Sendable, Hashable, Codable {
        /// `0x` + 32 bytes.
        public var taskID: String
        /// `0x` nonces, in creation order.
        public var nonces: [String]
        /// `0x` commitments, in creation order.
        public var commitments: [String]
        /// Set once the attempt has failed for good.
        public var failure: String?

        /// An attempt as recorded.
        public init(taskID: String, nonces: [String], commitments: [String], failure: String? = nil) {
            self.taskID = taskID
            self.nonces = nonces
            self.commitments = commitments
            self.failure = failure
        }
    }

    /// The run's id (the owner's).
    public var id: String
    /// The request.
    public var request: TaskRequest
    /// The attempts so far.
    public var attempts: [Attempt]
    /// The commitment the result was downloaded from, once done.
    public var resultCommitment: String?

    /// A run's state as recorded.
    public init(id: String, request: TaskRequest, attempts: [Attempt], resultCommitment: String? = nil) {
        self.id = id
        self.request = request
        self.attempts = attempts
        self.resultCommitment = resultCommitment
    }
}

/// Where a client's task states live (the Bridge keeps them in SQLite).
public protocol ClientTaskStore: Sendable {
    /// Saves (replaces) a state.
    func save(_ state: ClientTaskState) async throws
    /// The state saved under `id`, if any.
    func load(_ id: String) async throws -> ClientTaskState?
}

/// An in-memory `ClientTaskStore`.
public actor MemoryTaskStore: ClientTaskStore {
    private var states: [String: ClientTaskState] = [:]
    /// An empty store.
    public init() {}
    /// Saves a state.
    public func save(_ state: ClientTaskState) { states[state.id] = state }
    /// Loads a state.
    public func load(_ id: String) -> ClientTaskState? { states[id] }
}

/// Why a run produced no result.
public struct CrynuxClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public var message: String
    /// The relay's error behind it, when there is one.
    public var relayError: RelayAPIError?
    /// Whether the same request might succeed later (false once fees were spent on failed attempts).
    public var isRetryable: Bool
    /// The message.
    public var description: String { message }
}

/// A node streamed text that its validated result does not contain: what was shown would differ from the answer.
public struct TokenStreamMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    /// The relay task whose stream and result differ.
    public var commitment: String
    /// The choice.
    public var index: Int
    /// What the stream carried.
    public var streamed: String
    /// The result's text.
    public var result: String
    /// Says so.
    public var description: String {
        "the node of \(commitment) streamed text its result does not contain (choice \(index): \(streamed.prefix(60).debugDescription) … vs \(result.prefix(60).debugDescription))"
    }
}

/// The Crynux Network for an application: creates tasks signed with its wallet, follows them through the relay,
/// runs the VRF sampling and validation groups, validates in time, downloads the result, and retries
/// transient relay failures with back-off (docs/protocol.md §6.6).
public actor CrynuxClient {
    /// The signed relay API.
    public private(set) var relay: RelayClient
    /// The wallet's address.
    public nonisolated let address: String
    /// Where run states are kept.
    public let store: any ClientTaskStore
    /// Percent of tasks the relay sends to validation groups (`beta mod 100 < rate`); 1 on the public network.
    public let validationRatePercent: Int
    /// The shortest and longest wait between polls.
    public let pollRange: (min: Duration, max: Duration)
    private var synchronised = false
    /// The relay's extensions, once read.
    private var relayExtensions: Set<String>?
    /// The runs in progress; the actor's copy is the source of truth, the store gets snapshots of it.
    private var states: [String: ClientTaskState] = [:]

    /// A client for the relay at `relay`, paying from `wallet`'s relay account.
    public init(
        relay: String, wallet: PrivateKey, transport: any RelayTransport = HTTPClientTransport(), store: any ClientTaskStore = MemoryTaskStore(),
        validationRatePercent: Int = 1, pollRange: (min: Duration, max: Duration) = (.milliseconds(25), .seconds(1))
    ) {
        self.relay = RelayClient(baseURL: relay, key: wallet, transport: transport)
        address = wallet.address.checksummed
        self.store = store
        self.validationRatePercent = validationRatePercent
        self.pollRange = pollRange
    }

    /// Waits until the relay answers, for at most `timeout` (a relay starting beside this process, say).
    public func waitForRelay(timeout: Duration = .seconds(30)) async throws { try await relay.waitUntilReachable(timeout: timeout) }

    /// The relay account balance.
    public func balance() async throws -> Wei { try await withRetry { try await self.relay.balance() } }

    /// A task's relay record.
    public func task(_ commitment: String) async throws -> RelayTaskRecord { try await withRetry { try await self.relay.task(commitment) } }

    /// The relay tasks the run `runID` created, as recorded in the store (all attempts, validation copies too).
    public func commitments(of runID: String) async throws -> [String] {
        try await store.load(runID)?.attempts.flatMap(\.commitments) ?? []
    }

    /// Cancels the run's tasks still queued on the relay (their fees come back at once); returns whether every task
    /// of the run has now ended aborted, so that the run will end without a result. A task the relay does not know
    /// yet (its creation may still be on the way) counts as not cancelled: call again later.
    @discardableResult
    public func cancelQueued(runID: String) async -> Bool {
        guard let commitments = try? await commitments(of: runID), !commitments.isEmpty else { return false }
        var all = true
        for commitment in commitments {
            do {
                let record = try await relay.task(commitment)
                if record.status == 0 { try await relay.cancel(commitment) } else if record.status != 9 { all = false }
            } catch {
                all = false
            }
        }
        return all
    }

    /// What the relay charges the wallet for `commitments` at `fee` each, by the relay's settlement rules: a task
    /// that succeeded (alone or for its group), was invalidated, or was left unvalidated (abort reason 8) costs
    /// its fee; any other abort and a group's refunded copies cost nothing. A task not yet ended counts its fee
    /// (the most it can cost), and `settled` says whether every task had ended.
    public func charges(for commitments: [String], fee: Wei) async throws -> (charged: Wei, settled: Bool) {
        var charged = Wei.zero
        var settled = true
        for commitment in Set(commitments) {
            let record: RelayTaskRecord
            do { record = try await task(commitment) } catch let error as RelayAPIError where error.kind == .notFound {
                continue  // never reached the relay: nothing was charged
            }
            switch record.status {
            case 7, 8, 11: charged = charged + fee
            case 9 where record.abortReason == 8: charged = charged + fee
            case 9, 10: break
            default:
                charged = charged + fee
                settled = false
            }
        }
        return (charged, settled)
    }

    /// Creates one relay task (no follow-up).
    public func createTask(_ task: RelayClient.NewTask) async throws -> RelayTaskRecord {
        try await syncClock()
        return try await relay.createTask(task)
    }

    /// The relay's extensions of the public protocol (read once; empty for a relay without them).
    public func extensions() async -> Set<String> {
        if let relayExtensions { return relayExtensions }
        guard let read = try? await relay.extensions() else { return [] }
        relayExtensions = read
        return read
    }

    /// Runs `request` to its result, reporting progress to `onEvent`. With a `runID` already in the store the
    /// run resumes where it was (no task is created twice).
    ///
    /// `onText` receives an LLM run's text per choice: as the node makes it when the relay streams tokens and the
    /// task is not sent to validation, otherwise whole once the result is in. Either way the texts it received add up
    /// to the result's (with the whitespace the result trims); a node that streamed text its result does not
    /// contain makes the run throw `TokenStreamMismatch`.
    public func run(
        _ request: TaskRequest, runID: String = UUID().uuidString, onEvent: (@Sendable (TaskEvent) -> Void)? = nil,
        onText: (@Sendable (RelayClient.StreamDelta) -> Void)? = nil
    ) async throws -> TaskResult {
        guard request.repeats >= 1, request.taskSize >= 1 else { throw CrynuxClientError(message: "repeats and task_size must be at least 1", isRetryable: false) }
        try await syncClock()
        var saved = states[runID]
        if saved == nil { saved = try await store.load(runID) }
        var state = saved ?? ClientTaskState(id: runID, request: request, attempts: [], resultCommitment: nil)
        while state.attempts.count < request.repeats {
            let identity = TaskIdentity.random()
            state.attempts.append(.init(taskID: identity.taskIDHex, nonces: [], commitments: [], failure: nil))
        }
        states[runID] = state
        try await store.save(state)
        let attempts = state.attempts
        let resumed = saved != nil
        let result: TaskResult? = try await withThrowingTaskGroup(of: TaskResult?.self) { group in
            for (index, attempt) in attempts.enumerated() where attempt.failure == nil {
                // Text streams only from a run of one attempt: several attempts would interleave.
                let text = attempts.count == 1 ? onText : nil
                group.addTask { try await self.follow(request, runID: runID, attempt: index, resumed: resumed, onEvent: onEvent, onText: text) }
            }
            while let next = try await group.next() {
                if let next {
                    group.cancelAll()
                    return next
                }
            }
            return nil
        }
        defer { states[runID] = nil }
        guard let result else {
            let reasons = states[runID]?.attempts.compactMap(\.failure) ?? []
            throw CrynuxClientError(message: "no attempt produced a result: \(reasons.joined(separator: "; "))", isRetryable: false)
        }
        if var done = states[runID] {
            done.resultCommitment = result.commitment
            states[runID] = done
            try await store.save(done)
        }
        if let onText, request.taskType == .llm { try Self.finishText(result, streamed: result.streamed ?? [:], onText: onText) }
        return result
    }

    /// Checks what was streamed against the result and sends each choice's remaining text: all of it when nothing was
    /// streamed, the rest after a stream that ended early; throws `TokenStreamMismatch` when the stream is not a
    /// beginning of the result (leading and trailing whitespace aside, which the result trims).
    static func finishText(_ result: TaskResult, streamed: [Int: String], onText: @Sendable (RelayClient.StreamDelta) -> Void) throws {
        guard let first = result.files.first, let response = try? JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: first) else { return }
        for choice in response.choices {
            let final = choice.message.content
            let sent = streamed[choice.index] ?? ""
            let shown = String(String(sent.drop { $0.isWhitespace }).reversed().drop { $0.isWhitespace }.reversed())
            guard final.hasPrefix(shown) else {
                throw TokenStreamMismatch(commitment: result.commitment, index: choice.index, streamed: sent, result: final)
            }
            let rest = String(final.dropFirst(shown.count))
            if !rest.isEmpty { onText(RelayClient.StreamDelta(index: choice.index, text: rest)) }
        }
    }

    /// Reads the token stream of `commitment` into `onText` until the task stops running, reconnecting from the last
    /// chunk received; returns each choice's text.
    private func relayText(_ commitment: String, onText: @escaping @Sendable (RelayClient.StreamDelta) -> Void) async -> [Int: String] {
        var texts: [Int: String] = [:]
        var last = -1
        for attempt in 0..<20 {
            if Task.isCancelled { break }
            do {
                for try await event in try await relay.readStream(commitment, after: last) {
                    switch event {
                    case .deltas(let seq, let deltas):
                        guard seq == last + 1 else { continue }
                        last = seq
                        for d in deltas {
                            texts[d.index, default: ""] += d.text
                            onText(d)
                        }
                    case .end: return texts
                    }
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(50 * (attempt + 1)))
            }
        }
        return texts
    }

    /// The same run as an `AsyncSequence` of events; the result arrives with the last `.downloaded` event and
    /// from `run`'s return value when awaited directly.
    public nonisolated func progress(of request: TaskRequest, runID: String = UUID().uuidString) -> AsyncThrowingStream<TaskEvent, any Error> {
        AsyncThrowingStream { continuation in
            let work = Task {
                do {
                    _ = try await self.run(request, runID: runID) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in work.cancel() }
        }
    }

    // MARK: One attempt

    /// Changes one attempt in the actor's state (synchronously, so concurrent attempts cannot lose each
    /// other's changes), then saves a snapshot.
    private func updateAttempt(_ runID: String, _ index: Int, _ change: (inout ClientTaskState.Attempt) -> Void) async throws {
        guard var state = states[runID], index < state.attempts.count else { return }
        change(&state.attempts[index])
        states[runID] = state
        try await store.save(state)
    }

    private func attemptState(_ runID: String, _ index: Int) throws -> ClientTaskState.Attempt {
        guard let state = states[runID], index < state.attempts.count else {
            throw CrynuxClientError(message: "the run's state is missing", isRetryable: false)
        }
        return state.attempts[index]
    }

    /// Follows one attempt to its result, or nil when it ends without one.
    private func follow(
        _ request: TaskRequest, runID: String, attempt index: Int, resumed: Bool, onEvent: (@Sendable (TaskEvent) -> Void)?,
        onText: (@Sendable (RelayClient.StreamDelta) -> Void)? = nil
    ) async throws -> TaskResult? {
        var attempt = try attemptState(runID, index)
        guard let taskID = Hex.decode(attempt.taskID) else { return nil }
        func fail(_ reason: String) async throws -> TaskResult? {
            // Best effort: members still queued are cancelled so their fees come back at once.
            for c in (try? attemptState(runID, index).commitments) ?? [] {
                if let r = try? await relay.task(c), r.status == 0 { try? await relay.cancel(c) }
            }
            try await updateAttempt(runID, index) { $0.failure = reason }
            onEvent?(.failed(attempt: index, reason: reason))
            return nil
        }
        func newTask(_ identity: TaskIdentity, gpu: RelayNodeInfo?) -> RelayClient.NewTask {
            var t = RelayClient.NewTask(identity: identity, taskArgs: request.taskArgs, taskType: request.taskType, modelIDs: request.modelIDs, fee: request.fee)
            t.minVRAM = request.minVRAM
            t.taskVersion = request.taskVersion
            t.taskSize = request.taskSize
            if let gpu {
                t.requiredGPU = gpu.gpuName
                t.requiredGPUVRAM = gpu.gpuVRAM
            }
            return t
        }
        // 1. The first task (unless a resumed run already created it).
        if attempt.commitments.isEmpty {
            let identity = TaskIdentity(taskID: taskID, nonce: TaskIdentity.random().nonce)
            let commitment = "0x" + Hex.encode(identity.commitment)
            try await updateAttempt(runID, index) { $0.nonces = [identity.nonceHex]; $0.commitments = [commitment] }
            do {
                _ = try await withRetry { try await self.relay.createTask(newTask(identity, gpu: nil)) }
            } catch let error as RelayAPIError where !error.isRetryable {
                if error.message.contains("already exists") == false { return try await fail("the relay refused the task: \(error)") }
            }
            onEvent?(.created(attempt: index, commitment: commitment))
            attempt = try attemptState(runID, index)
        }
        guard let first = attempt.commitments.first else { return try await fail("the attempt has no task") }
        // A resumed run may have recorded its first task and stopped before the relay got it: create it now, with
        // the recorded identity (the same commitment, so never twice).
        if resumed, try await isMissing(first), let identity = recordedIdentity(attempt, 0) {
            do { _ = try await withRetry { try await self.relay.createTask(newTask(identity, gpu: nil)) } } catch let error as RelayAPIError where !error.isRetryable {
                if error.message.contains("already exists") == false { return try await fail("the relay refused the task: \(error)") }
            }
            onEvent?(.created(attempt: index, commitment: first))
        }
        var record = try await task(first)
        // 2. The VRF decides whether a validation group is needed.
        let proof = try ECVRF.prove(key: relay.key, alpha: record.samplingSeed)
        var beta = 0
        for b in proof.beta { beta = (beta * 256 + Int(b)) % 100 }
        let group = beta < validationRatePercent
        if group && attempt.commitments.count == 1 {
            var pinned: RelayNodeInfo?
            if request.taskType == .llm {
                // LLM copies must run on the same GPU model: wait for the first task's node.
                record = try await waitFor(first) { $0.status != 0 }
                guard !record.selectedNode.isEmpty else { return try await fail("the task ended before it started (abort reason \(record.abortReason))") }
                pinned = try await withRetry { try await self.relay.node(record.selectedNode) }
            }
            for _ in 0..<2 {
                let identity = TaskIdentity(taskID: taskID, nonce: TaskIdentity.random().nonce)
                let commitment = "0x" + Hex.encode(identity.commitment)
                try await updateAttempt(runID, index) { $0.nonces.append(identity.nonceHex); $0.commitments.append(commitment) }
                do { _ = try await withRetry { try await self.relay.createTask(newTask(identity, gpu: pinned)) } } catch let error as RelayAPIError
                where !error.isRetryable {
                    return try await fail("the relay refused a validation copy: \(error)")
                }
            }
            attempt = try attemptState(runID, index)
            onEvent?(.validationGroup(attempt: index, commitments: attempt.commitments))
        } else if group && resumed && attempt.commitments.count > 1 {
            // Copies recorded before a stop but never created: create them now, pinned as the first were to be.
            var pinned: RelayNodeInfo?
            for (i, c) in attempt.commitments.enumerated().dropFirst() {
                guard try await isMissing(c), let identity = recordedIdentity(attempt, i) else { continue }
                if request.taskType == .llm && pinned == nil {
                    record = try await waitFor(first) { $0.status != 0 }
                    guard !record.selectedNode.isEmpty else { return try await fail("the task ended before it started (abort reason \(record.abortReason))") }
                    pinned = try await withRetry { try await self.relay.node(record.selectedNode) }
                }
                do { _ = try await withRetry { try await self.relay.createTask(newTask(identity, gpu: pinned)) } } catch let error as RelayAPIError
                where !error.isRetryable {
                    if error.message.contains("already exists") == false { return try await fail("the relay refused a validation copy: \(error)") }
                }
            }
        }
        let commitments = attempt.commitments
        // A task not sent to validation shows its text as the node makes it (a group's is shown once validated).
        var reader: Task<[Int: String], Never>?
        if let onText, !group, request.taskType == .llm, await extensions().contains("token_stream") {
            reader = Task { await self.relayText(first, onText: onText) }
        }
        defer { reader?.cancel() }
        // 3. Wait for the score(s), then validate (once; a resumed run may find it done).
        var records: [RelayTaskRecord] = []
        for c in commitments {
            records.append(try await waitFor(c) { [3, 4].contains($0.status) || $0.status >= 5 })
            if let r = records.last, !r.selectedNode.isEmpty { onEvent?(.started(attempt: index, commitment: c, node: r.selectedNode)) }
            onEvent?(.scored(attempt: index, commitment: c))
        }
        let needsValidation = records.contains { [3, 4].contains($0.status) }
        if needsValidation {
            if records.contains(where: { $0.status == 9 && $0.abortReason == 8 }) {
                return try await fail("a validation copy missed its validation window")
            }
            do {
                try await withRetry {
                    try await self.relay.validate(commitments: commitments, taskID: attempt.taskID, vrfProof: proof.pi)
                }
                onEvent?(.validated(attempt: index))
            } catch let error as RelayAPIError where !error.isRetryable {
                return try await fail("validation refused: \(error)")
            }
        }
        // 4. The successful member (EndSuccess / EndGroupSuccess), then its files.
        var winner: RelayTaskRecord?
        if commitments.count == 1, await extensions().contains("long_poll") {
            let record = try await waitFor(commitments[0]) { $0.status >= 7 }
            if record.status == 8 || record.status == 11 { winner = record }
        }
        while winner == nil {
            var terminal = 0
            for c in commitments {
                let r = try await task(c)
                if r.status == 8 || r.status == 11 { winner = r; break }
                if r.status >= 7 && r.status != 11 { terminal += 1 }
            }
            if winner != nil { break }
            if terminal == commitments.count {
                let reasons = try await withRetry { () async throws -> [Int] in
                    var out: [Int] = []
                    for c in commitments { out.append(try await self.relay.task(c).abortReason) }
                    return out
                }
                return try await fail("the task ended without a result (abort reasons \(reasons))")
            }
            try await Task.sleep(for: pollRange.min)
        }
        guard let winner else { return nil }
        var files: [[UInt8]] = []
        for i in 0..<request.taskSize {
            files.append(try await download(winner.commitment, index: i))
        }
        onEvent?(.downloaded(attempt: index, commitment: winner.commitment))
        var result = TaskResult(commitment: winner.commitment, files: files, groupValidated: winner.status == 11)
        if let reader {
            // The stream ended when the node scored; a reader still waiting (a lost connection) gets a moment.
            let late = Task {
                try? await Task.sleep(for: .seconds(2))
                reader.cancel()
            }
            result.streamed = await reader.value
            late.cancel()
        }
        return result
    }

    /// Polls a task until `done` holds or it is terminal, backing off from `pollRange.min` to `pollRange.max`.
    /// With the relay's long poll, each wait returns as soon as the task's status changes.
    private func waitFor(_ commitment: String, _ done: (RelayTaskRecord) -> Bool) async throws -> RelayTaskRecord {
        var delay = pollRange.min
        let longPoll = await extensions().contains("long_poll")
        var record = try await task(commitment)
        while true {
            if done(record) || record.status >= 7 { return record }
            if longPoll {
                let status = record.status
                record = try await withRetry { try await self.relay.task(commitment, unlessStatus: status, wait: .seconds(20)) }
            } else {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, pollRange.max)
                record = try await task(commitment)
            }
        }
    }

    /// Downloads a result file, retrying while the relay says it is not uploaded yet.
    private func download(_ commitment: String, index: Int) async throws -> [UInt8] {
        var delay = pollRange.min
        for _ in 0..<600 {
            do {
                return try await withRetry { try await self.relay.result(commitment, index: index) }
            } catch let error as RelayAPIError where error.kind == .validation {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, pollRange.max)
            }
        }
        throw CrynuxClientError(message: "the result of \(commitment) never became downloadable", isRetryable: false)
    }

    /// Retries retryable relay failures (5xx, unreachable) with back-off, and a stale timestamp once after
    /// re-reading the relay's clock.
    /// Whether the relay has no task `commitment` (404); other failures are thrown.
    private func isMissing(_ commitment: String) async throws -> Bool {
        do {
            _ = try await task(commitment)
            return false
        } catch let error as RelayAPIError where error.kind == .notFound {
            return true
        }
    }

    /// The identity of relay task `i` of an attempt, from its recorded task id and nonce.
    private func recordedIdentity(_ attempt: ClientTaskState.Attempt, _ i: Int) -> TaskIdentity? {
        guard i < attempt.nonces.count else { return nil }
        return try? TaskIdentity(taskIDHex: attempt.taskID, nonceHex: attempt.nonces[i])
    }

    private func withRetry<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var delay = pollRange.min
        var resynced = false
        for attempt in 0..<8 {
            do { return try await body() } catch let error as RelayAPIError {
                if error.kind == .validation && error.field == "timestamp" && !resynced {
                    resynced = true
                    var r = relay
                    try await r.synchroniseClock()
                    relay = r
                    continue
                }
                guard error.isRetryable, attempt < 7 else { throw error }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        throw CrynuxClientError(message: "the relay stayed unreachable", isRetryable: true)
    }

    private func syncClock() async throws {
        guard !synchronised else { return }
        var r = relay
        try await r.synchroniseClock()
        relay = r
        synchronised = true
    }

    // MARK: Chat

    /// An OpenAI-style chat completion computed on the network.
    public struct ChatCompletion: Sendable, Hashable {
        /// `chatcmpl-…`.
        public var id: String
        /// The model id.
        public var model: String
        /// Unix seconds.
        public var created: Int64
        /// The choices.
        public var choices: [GPTTaskResponse.Choice]
        /// Token counts.
        public var usage: GPTTaskResponse.Usage
        /// The relay task the answer came from.
        public var commitment: String

        /// The OpenAI JSON object (`object: chat.completion`).
        public var json: JSONValue {
            .object([
                JSONMember("id", .string(id)), JSONMember("object", .string("chat.completion")), JSONMember("created", .integer(created)),
                JSONMember("model", .string(model)),
                JSONMember("choices", .array(choices.map { c in
                    .object([
                        JSONMember("index", .integer(c.index)),
                        JSONMember("message", .object([JSONMember("role", .string(c.message.role)), JSONMember("content", .string(c.message.content))])),
                        JSONMember("finish_reason", .string(c.finishReason)),
                    ])
                })),
                JSONMember("usage", .object([
                    JSONMember("prompt_tokens", .integer(usage.promptTokens)), JSONMember("completion_tokens", .integer(usage.completionTokens)),
                    JSONMember("total_tokens", .integer(usage.totalTokens)),
                ])),
            ])
        }
    }

    /// Generates images with a Stable Diffusion task and returns the PNG files (one per image).
    public func generateImages(
        _ args: SDTaskArgs, baseModel: String, minVRAM: Int = 8, fee: Wei = Wei(cnx: 1), repeats: Int = 1, onEvent: (@Sendable (TaskEvent) -> Void)? = nil
    ) async throws -> [[UInt8]] {
        do { try args.validate() } catch { throw CrynuxClientError(message: "invalid image task: \(error)", isRetryable: false) }
        let count = args.withDefaults().taskConfig.numImages ?? 1
        let request = TaskRequest(
            taskType: .sd, taskArgs: args.jsonString, modelIDs: ["base:" + baseModel], fee: fee * UInt64(max(1, count)), minVRAM: minVRAM,
            taskSize: count, repeats: repeats)
        return try await run(request, onEvent: onEvent).files
    }

    /// Runs a chat on `model` (a Hugging Face id) and returns the answer in OpenAI's shape; `onText` sees the text as
    /// it comes (see `run`).
    public func chat(
        model: String, messages: [ChatMessage], generation: GenerationConfig? = nil, seed: Int? = nil, fee: Wei = Wei(cnx: 5), repeats: Int = 1,
        onEvent: (@Sendable (TaskEvent) -> Void)? = nil, onText: (@Sendable (RelayClient.StreamDelta) -> Void)? = nil
    ) async throws -> ChatCompletion {
        var args = GPTTaskArgs(model: model, messages: messages, generationConfig: generation)
        args.seed = seed
        do { try args.validate() } catch { throw CrynuxClientError(message: "invalid chat: \(error)", isRetryable: false) }
        let request = TaskRequest(taskType: .llm, taskArgs: args.jsonString, modelIDs: ["base:" + model], fee: fee, repeats: repeats)
        let result = try await run(request, onEvent: onEvent, onText: onText)
        let response: GPTTaskResponse
        do { response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0]) } catch {
            throw CrynuxClientError(message: "the node's result is not a chat response: \(error)", isRetryable: false)
        }
        return ChatCompletion(
            id: "chatcmpl-" + String(result.commitment.dropFirst(2).prefix(24)), model: model, created: Int64(Date().timeIntervalSince1970),
            choices: response.choices, usage: response.usage, commitment: result.commitment)
    }
}
