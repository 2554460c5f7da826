import Crypto
import CrynuxSDK
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The hardware a node announces when it joins.
public struct NodeHardware: Sendable, Hashable {
    /// `<name>+<platform>` as the reference node builds it (`NVIDIA GeForce RTX 4090+Linux`,
    /// `2x NVIDIA A100 80GB PCIe+Linux`), or for a CPU-only machine `CPU <model>+<platform>`.
    public var gpuName: String
    /// GB: the GPU group's memory rounded up, or for a CPU node its RAM rounded up.
    public var gpuVRAM: Int

    /// Creates an identity.
    public init(gpuName: String, gpuVRAM: Int) {
        self.gpuName = gpuName
        self.gpuVRAM = gpuVRAM
    }

    /// The reference node's identity from `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`:
    /// the largest group of identical cards, `N x name` for several, VRAM = ⌈Σ MiB / 1024⌉.
    public static func nvidia(csv: String, platform: String = "Linux") -> NodeHardware? {
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for line in csv.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 2, let mib = Int(parts[1]), !parts[0].isEmpty else { continue }
            if groups[parts[0]] == nil { order.append(parts[0]) }
            groups[parts[0], default: []].append(mib)
        }
        guard let name = order.max(by: { groups[$0]!.count < groups[$1]!.count }) else { return nil }
        let cards = groups[name]!
        let label = cards.count > 1 ? "\(cards.count)x \(name)" : name
        return NodeHardware(gpuName: "\(label)+\(platform)", gpuVRAM: (cards.reduce(0, +) + 1023) / 1024)
    }

    /// This machine: NVIDIA GPUs through `nvidia-smi` when present, otherwise a CPU identity from
    /// `/proc/cpuinfo` (`CPU <model name>+Linux`, RAM in GB).
    public static func detect() -> NodeHardware {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        if (try? process.run()) != nil {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            if process.terminationStatus == 0, let gpu = nvidia(csv: String(decoding: data, as: UTF8.self)) { return gpu }
        }
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }.map {
            $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        } ?? "unknown"
        let ram = Int((Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)).rounded(.up))
        return NodeHardware(gpuName: "CPU \(model)+Linux", gpuVRAM: max(1, ram))
    }
}

/// Produces images for SD tasks (PNG files, one per image). No engine implements it in this repository yet.
public protocol ImageEngine: Sendable {
    /// The PNG files for `args`.
    func generate(_ args: SDTaskArgs) async throws -> [[UInt8]]
}

/// A Crynux worker node: joins the relay, polls for its task, runs it with the engine under the task's deadline,
/// submits the score, uploads results once validated, and reports `task_error` only for invalid arguments.
///
/// As a `Service` it waits for its relay, joins (unless already joined), and serves until graceful shutdown or
/// `stop()`; then it finishes the step in hand and quits the network.
public actor NodeWorker: Service {
    /// How the node talks to the relay.
    public let client: RelayClient
    /// The LLM engine, by the base model id it serves (`base:huggingfacetb/smollm2-135m-instruct`).
    public let engines: [String: TextGenerator]
    /// The image engine, when there is one.
    public let imageEngine: (any ImageEngine)?
    /// What the node announces.
    public let hardware: NodeHardware
    /// The runner version announced.
    public let version: String
    /// Where result files are kept until uploaded.
    public let dataDirectory: String
    /// Seconds between polls.
    public let pollInterval: Duration
    /// The stake announced when joining.
    public let staking: Wei
    /// The network name announced when joining.
    public let network: String
    /// Where `note`s also go.
    let logger: Logger
    /// Rewrites a response before it is scored (tests use it to play a dishonest node).
    let tamper: (@Sendable (GPTTaskResponse) -> GPTTaskResponse)?

    /// How many tasks it holds at once, declared to relays with our `node_slots` extension (others give one at a time).
    public let slots: Int

    private var stopping = false
    /// Tasks this node is done with (the most recent 10,000: a node's memory does not grow with its history).
    private var finished: Set<String> = []
    private var finishedOrder: [String] = []
    /// Whether the data folder has been made private (0700) in this process.
    private var dataDirectoryIsPrivate = false
    /// Each scored task's result files (uploaded once validated) and score (sent again if it did not arrive).
    private var scored: [String: (files: [(name: String, bytes: [UInt8])], score: String)] = [:]
    /// The relay's extensions (`token_stream`, `long_poll`, `node_slots`), read once when serving starts.
    private var extensions: Set<String> = []
    /// One handler per task the node holds, each taking its task from start to upload.
    private var handlers: [String: Task<Void, Never>] = [:]
    /// The long polls in flight, cancelled by `stop()` so a stopping node does not wait them out.
    private var cancelLongPolls: [Int: @Sendable () -> Void] = [:]
    private var nextLongPoll = 0
    /// Log lines (`NodeWorker.log`), for operators and tests.
    public private(set) var log: [String] = []

    /// A node serving `engines` (by base model id) on `hardware`, holding up to `slots` tasks at once where the relay
    /// allows it.
    public init(
        client: RelayClient, engines: [String: TextGenerator], imageEngine: (any ImageEngine)? = nil, hardware: NodeHardware,
        version: String = "3.5.0", dataDirectory: String, pollInterval: Duration = .milliseconds(200), staking: Wei = Wei(cnx: 400),
        network: String = "local", slots: Int = 1, logger: Logger = Logger(label: "crynux.node"),
        tamper: (@Sendable (GPTTaskResponse) -> GPTTaskResponse)? = nil
    ) {
        self.slots = max(1, slots)
        self.client = client
        self.engines = engines
        self.imageEngine = imageEngine
        self.hardware = hardware
        self.version = version
        self.dataDirectory = dataDirectory
        self.pollInterval = pollInterval
        self.staking = staking
        self.network = network
        self.logger = logger
        self.tamper = tamper
    }

    /// Waits for the relay, joins (unless already joined), then serves until graceful shutdown or `stop()`; the
    /// step in hand is finished first, then the node quits the network (after its current task, as the relay rules).
    public func run() async throws {
        try await client.waitUntilReachable()
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            Task { await self.stop() }
        }
        do {
            try await quit()
            note("quit the network")
        } catch {
            note("could not quit the network: \(error)")
        }
    }

    /// Joins (unless already joined), then takes tasks until `stop()`; then waits for the tasks in hand to reach a step
    /// where they can be left.
    func serve() async throws {
        if let me = try await client.ownNode(), me.status != 0 {
            note("already joined as \(me.gpuName)")
        } else {
            try await client.join(
                gpuName: hardware.gpuName, gpuVRAM: hardware.gpuVRAM, modelIDs: engines.keys.sorted(), version: version, staking: staking,
                network: network)
            note("joined as \(hardware.gpuName) (\(hardware.gpuVRAM) GB) with \(engines.keys.sorted())")
        }
        extensions = (try? await client.extensions()) ?? []
        if !extensions.isEmpty { note("relay extensions: \(extensions.sorted().joined(separator: ", "))") }
        if extensions.contains("node_slots") {
            try await client.declareSlots(slots)
            note("holds up to \(slots) task\(slots == 1 ? "" : "s") at once")
        }
        var known: [String] = []
        while !stopping {
            do {
                guard let held = try await tasksHeld(unless: known) else { break }
                known = held
                // At most `slots` tasks in hand, whatever the relay names. A handler whose task the relay no longer lists is
                // only finishing up (the relay freed its slot on the upload), so it does not count.
                var inHand = handlers.keys.filter(held.contains).count
                for commitment in held where handlers[commitment] == nil && !finished.contains(commitment) && inHand < slots {
                    // It names a folder of ours: only a well-formed commitment (0x + 64 hex digits) is taken from the relay.
                    guard Self.isCommitment(commitment) else {
                        note("the relay named a malformed task commitment; ignored")
                        markFinished(commitment)
                        continue
                    }
                    handlers[commitment] = Task { await self.handle(commitment) }
                    inHand += 1
                }
            } catch let error as RelayAPIError where error.isRetryable {
                note("relay unreachable, retrying: \(error)")
                try await Task.sleep(for: pollInterval)
                continue
            }
            // With the relay's long poll the request itself waited for news; otherwise poll.
            if !stopping && !extensions.contains("long_poll") { try await Task.sleep(for: pollInterval) }
        }
        while let (commitment, handler) = handlers.first {
            await handler.value
            handlers[commitment] = nil
        }
    }

    /// The tasks the relay says this node holds: all of them with `node_slots`, else its one current task. With the
    /// relay's long poll it answers once that differs from `known`; nil when `stop()` cancelled the wait.
    private func tasksHeld(unless known: [String]) async throws -> [String]? {
        let client = self.client
        if extensions.contains("node_slots") {
            return try await longPoll { try await client.currentTasks(unless: known, wait: Self.longPoll) }
        }
        if extensions.contains("long_poll") {
            guard let named = try await longPoll({ try await client.currentTask(unless: known.first, wait: Self.longPoll) }) else { return nil }
            return named.map { [$0] } ?? []
        }
        return try await client.currentTask().map { [$0] } ?? []
    }

    /// Takes one task from start to upload, step by step, until it is done with it or the node stops.
    private func handle(_ commitment: String) async {
        while !stopping && !finished.contains(commitment) {
            do {
                if try await step(commitment) { continue }
            } catch let error as RelayAPIError where error.isRetryable {
                note("relay unreachable, retrying: \(error)")
            } catch {
                note("gave up on \(commitment): \(error)")
                markFinished(commitment)
                break
            }
            if !stopping { try? await Task.sleep(for: pollInterval) }
        }
        handlers[commitment] = nil
    }

    /// Asks the loop to end after the current step (long polls in flight end at once).
    public func stop() {
        stopping = true
        for cancel in cancelLongPolls.values { cancel() }
    }

    /// Runs one long poll so that `stop()` can cancel it; nil when it was cancelled.
    private func longPoll<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        guard !stopping else { return nil }
        let wait = Task { try await body() }
        let id = nextLongPoll
        nextLongPoll += 1
        cancelLongPolls[id] = { wait.cancel() }
        defer { cancelLongPolls[id] = nil }
        do { return .some(try await wait.value) } catch where stopping || wait.isCancelled { return nil }
    }

    /// Quits the network (after the current task, as the relay rules).
    public func quit() async throws { try await client.nodeAction("quit") }

    private func markFinished(_ commitment: String) {
        guard finished.insert(commitment).inserted else { return }
        finishedOrder.append(commitment)
        if finishedOrder.count > 10_000 {
            for old in finishedOrder.prefix(1_000) { finished.remove(old) }
            finishedOrder.removeFirst(1_000)
        }
    }

    private func note(_ line: String) {
        log.append(line)
        if log.count > 1000 { log.removeFirst(log.count - 1000) }
        logger.info("\(line)", metadata: ["node": "\(client.address)"])
    }

    /// How long one long poll may wait.
    static let longPoll: Duration = .seconds(20)

    /// One step of a task: compute it once started, upload its results once validated, and let it go once it ended.
    /// Returns whether to take the next step at once (it made progress, or waited for news on the relay's long poll);
    /// false when the caller should pause before asking again.
    func step(_ commitment: String) async throws -> Bool {
        let polling = extensions.contains("long_poll")
        var record = try await client.task(commitment)
        if polling, record.status == 4 {
            // Scored: wait for the creator's validation instead of polling for it.
            let client = self.client
            guard let changed = try await longPoll({ try await client.task(commitment, unlessStatus: 4, wait: Self.longPoll) }) else { return true }
            record = changed
        }
        switch record.status {
        case 1, 2:  // started: compute, once (and send the score again if it did not arrive)
            if let score = scored[commitment]?.score {
                try await client.submitScore(commitment, score: score)
                note("scored \(commitment) again: \(score)")
                return true
            }
            try await execute(record)
            return true
        case 5, 6, 7:  // validated, group validated, invalidated (evidence): upload
            guard let files = scored[commitment]?.files else {
                markFinished(commitment)
                return true
            }
            try await client.uploadResults(commitment, files: files)
            note("uploaded \(commitment)")
            markFinished(commitment)
            scored[commitment] = nil
            return true
        case 4:  // scored: the creator validates (with the long poll, the wait above was the pause)
            return polling
        default:  // ended, or not (or no longer) ours to act on
            markFinished(commitment)
            scored[commitment] = nil
            return true
        }
    }

    private func execute(_ record: RelayTaskRecord) async throws {
        let commitment = record.commitment
        let deadline = Date(timeIntervalSince1970: Self.parseTime(record.json["start_time"]?.stringValue) + (record.json["timeout"]?.doubleValue ?? 600))
        if Int(record.json["task_type"]?.doubleValue ?? -1) == TaskType.sd.rawValue, let imageEngine {
            try await executeImages(record, engine: imageEngine, deadline: deadline)
            return
        }
        guard Int(record.json["task_type"]?.doubleValue ?? -1) == TaskType.llm.rawValue else {
            note("no engine for the task type of \(commitment); letting it time out")
            markFinished(commitment)
            return
        }
        let argsText = record.json["task_args"]?.stringValue ?? ""
        let base = (record.json["model_ids"].flatMap { v -> [String]? in
            guard case .array(let ids) = v else { return nil }
            return ids.compactMap(\.stringValue)
        } ?? []).first { $0.hasPrefix("base:") } ?? ""
        let args: GPTTaskArgs
        do { args = try GPTTaskArgs(json: Array(argsText.utf8)) } catch {
            note("invalid task arguments for \(commitment): \(error)")
            try await client.reportTaskError(commitment)
            markFinished(commitment)
            return
        }
        guard let engine = engines[base] else {
            note("no engine for \(base); letting \(commitment) time out")
            markFinished(commitment)
            return
        }
        // The engine stops at the task's deadline: past it the relay has already timed the task out.
        let remaining = max(0, deadline.timeIntervalSinceNow)
        let stop = ContinuousClock.now + .milliseconds(Int64(min(remaining, 86_400) * 1000))
        // With the relay's token-stream extension, the text goes to the creator as it is made (batched: one request
        // in flight, the next carrying everything made meanwhile); the result and its score are as without it.
        let streamer = extensions.contains("token_stream") ? TextStreamer(client: client, commitment: commitment) : nil
        let outcome: Result<GPTTaskResponse, any Error> = await Self.offThread {
            Result {
                try engine.run(task: args, until: stop) { event in
                    if case .token(let index, _, let text) = event, !text.isEmpty { streamer?.add(index: index, text: text) }
                }
            }
        }
        if let streamer, let failure = await streamer.finish() { note("streaming \(commitment) stopped: \(failure)") }
        let response: GPTTaskResponse
        switch outcome {
        case .success(let r): response = r
        case .failure(let error as EngineError) where error.kind == .invalidArgument:
            note("invalid task arguments for \(commitment): \(error)")
            try await client.reportTaskError(commitment)
            markFinished(commitment)
            return
        case .failure(let error):
            // Not the task's fault: stay silent and let the relay time it out (a health penalty, never a slash).
            note("engine failed on \(commitment): \(error)")
            markFinished(commitment)
            return
        }
        guard Date() < deadline else {
            note("\(commitment) finished after its deadline; not submitted")
            markFinished(commitment)
            return
        }
        let file = (tamper?(response) ?? response).resultFile
        let dir = "\(dataDirectory)/tasks/\(commitment)"
        if !dataDirectoryIsPrivate {
            try DataDirectory.makePrivate(dataDirectory)
            dataDirectoryIsPrivate = true
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Data(file).write(to: URL(fileURLWithPath: dir + "/0.json"), options: .atomic)
        let score = Hex.encode(SHA256.hash(data: file), prefix: true)
        scored[commitment] = ([("0.json", file)], score)
        try await client.submitScore(commitment, score: score)
        note("scored \(commitment): \(score)")
    }

    /// An SD task through the image engine: the PNGs, their pHashes as the score.
    private func executeImages(_ record: RelayTaskRecord, engine: any ImageEngine, deadline: Date) async throws {
        let commitment = record.commitment
        let args: SDTaskArgs
        do { args = try SDTaskArgs(json: Array((record.json["task_args"]?.stringValue ?? "").utf8)) } catch {
            note("invalid task arguments for \(commitment): \(error)")
            try await client.reportTaskError(commitment)
            markFinished(commitment)
            return
        }
        let images: [[UInt8]]
        do { images = try await engine.generate(args) } catch {
            note("image engine failed on \(commitment): \(error)")
            markFinished(commitment)
            return
        }
        guard Date() < deadline, !images.isEmpty else {
            note("\(commitment): no images in time; not submitted")
            markFinished(commitment)
            return
        }
        let score = try PerceptionHash.score(pngs: images)
        scored[commitment] = (images.enumerated().map { ("\($0.offset).png", $0.element) }, score)
        try await client.submitScore(commitment, score: score)
        note("scored \(commitment): \(score)")
    }

    /// Whether `text` is `0x` followed by 64 hex digits.
    static func isCommitment(_ text: String) -> Bool { text.hasPrefix("0x") && Hex.decode(text, count: 32) != nil }

    static func parseTime(_ text: String?) -> TimeInterval {
        guard let text, let date = ISO8601DateFormatter().date(from: text) else { return Date().timeIntervalSince1970 }
        return date.timeIntervalSince1970
    }

    /// Runs blocking work on a thread of its own (the engine computes for seconds; the cooperative pool must not wait).
    static func offThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}

/// Sends a running task's text to the relay as the engine makes it: deltas are buffered per choice and sent in order,
/// one request at a time, each carrying everything made since the previous one. Best effort: a failure stops the
/// stream, never the task.
final class TextStreamer: @unchecked Sendable {
    private let client: RelayClient
    private let commitment: String
    // Guarded by `lock`.
    private let lock = NSLock()
    private var pending: [Int: String] = [:]
    private var order: [Int] = []
    private let wake: AsyncStream<Void>.Continuation
    private let sender: Task<String?, Never>

    init(client: RelayClient, commitment: String) {
        self.client = client
        self.commitment = commitment
        let (signals, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        let box = Box()
        sender = Task {
            var seq = 0
            for await _ in signals {
                guard let streamer = box.streamer else { break }
                let deltas = streamer.take()
                guard !deltas.isEmpty else { continue }
                do { try await client.streamText(commitment, seq: seq, deltas: deltas) } catch { return "\(error)" }
                seq += 1
            }
            // The engine is done: whatever it made after the last send.
            if let deltas = box.streamer?.take(), !deltas.isEmpty {
                do { try await client.streamText(commitment, seq: seq, deltas: deltas) } catch { return "\(error)" }
            }
            return nil
        }
        box.streamer = self
    }

    /// A weak-free handle the sender reads the buffer through (set once, before any token arrives).
    private final class Box: @unchecked Sendable {
        var streamer: TextStreamer?
    }

    /// Buffers `text` of choice `index` (called on the engine's thread).
    func add(index: Int, text: String) {
        lock.withLock {
            if pending[index] == nil { order.append(index) }
            pending[index, default: ""] += text
        }
        wake.yield()
    }

    /// Everything buffered, in the order the choices first produced text.
    private func take() -> [RelayClient.StreamDelta] {
        lock.withLock {
            defer {
                pending = [:]
                order = []
            }
            return order.prefix(16).compactMap { i in pending[i].map { RelayClient.StreamDelta(index: i, text: $0) } }
        }
    }

    /// Sends what is left and waits for the sender; returns why streaming stopped early, if it did.
    func finish() async -> String? {
        wake.finish()
        return await sender.value
    }
}

/// `crynux node`: a worker from a keystore and a model folder, stopping cleanly on SIGTERM/SIGINT.
public enum NodeRunner {
    /// Loads the wallet and every model the folder's manifest lists, joins `relay` (holding up to `slots` tasks at once
    /// where the relay has the `node_slots` extension), and serves until a signal; then
    /// finishes the step in hand and quits the network.
    public static func run(
        relay: String, keystore: String, password: String, models: String, dataDirectory: String, threads: Int, slots: Int = 1
    ) async throws {
        let key = try Keystore.read(from: keystore).decrypt(password: password)
        let engines = try engines(in: models, threads: threads)
        var client = RelayClient(baseURL: relay, key: key)
        try await client.synchroniseClock()
        let logger = Logger(label: "crynux.node")
        let worker = NodeWorker(
            client: client, engines: engines, hardware: NodeHardware.detect(), dataDirectory: dataDirectory, slots: slots, logger: logger)
        logger.info("node serving", metadata: ["address": "\(key.address.checksummed)", "models": "\(engines.keys.sorted())", "relay": "\(relay)"])
        try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
        logger.info("node stopped")
    }

    /// One engine per model the folder's manifest lists, by the base model id a task names (`base:<lowercased id>`).
    public static func engines(in models: String, threads: Int) throws -> [String: TextGenerator] {
        let manifest = try ModelStore(directory: models).manifest()
        guard !manifest.files.isEmpty else { throw ModelStoreError("\(models) has no models: run `crynux model fetch --dir \(models)` first") }
        var engines: [String: TextGenerator] = [:]
        for entry in manifest.files {
            engines["base:" + entry.modelID.lowercased()] = try TextGenerator(path: models + "/" + entry.file, threads: threads)
        }
        return engines
    }
}
