import CrynuxSDK
import Foundation
import Hummingbird
import Logging

/// Where the relay reads the time (a seam so tests can move it).
public protocol RelayClock: Sendable {
    /// Unix seconds.
    func now() -> Int64
}

/// The system clock.
public struct SystemRelayClock: RelayClock {
    /// Creates the clock.
    public init() {}
    /// Unix seconds.
    public func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}

/// A clock tests set by hand.
public final class ManualRelayClock: RelayClock, @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var value: Int64

    /// A clock showing `start`.
    public init(_ start: Int64) { value = start }
    /// The time it shows.
    public func now() -> Int64 { lock.withLock { value } }
    /// Moves it forward.
    public func advance(_ seconds: Int64) { lock.withLock { value += seconds } }
}

/// The running relay: the state machine behind an actor, every accepted change committed to the store before
/// it is visible, result files kept on disk, and the matching/deadline tick.
public actor RelayService {
    private var state: RelayState
    private let store: RelayStore
    /// The clock.
    public nonisolated let clock: any RelayClock
    /// Where result files live (`inference_tasks/<commitment>/results/<i>.json|png`), or nil to keep them in memory.
    public nonisolated let dataDirectory: String?
    private var memoryFiles: [String: [[UInt8]]] = [:]

    /// A relay over `store`, restoring what it holds (or starting empty with `seed`).
    public init(store: RelayStore, config: RelayConfig = RelayConfig(), clock: any RelayClock = SystemRelayClock(), seed: UInt64, dataDirectory: String?) throws {
        self.store = store
        self.clock = clock
        self.dataDirectory = dataDirectory
        state = try store.load(config: config, seed: seed)
        state.config = config
    }

    /// Runs `body` on a copy of the state; commits the copy (database first) only if it succeeds.
    public func perform<T: Sendable>(_ body: (inout RelayState, Int64) throws(RelayError) -> T) throws -> T {
        var next = state
        let value = try body(&next, clock.now())
        try store.save(from: state, to: next)
        state = next
        return value
    }

    /// Reads the state.
    public func read<T: Sendable>(_ body: (RelayState) throws(RelayError) -> T) throws(RelayError) -> T { try body(state) }

    /// One matching round and the deadline check, committed.
    @discardableResult
    public func tick() throws -> [String] {
        try perform { state, now in
            let ended = state.expireDeadlines(now: now)
            let started = state.dispatch(now: now)
            state.distributeModels(now: now)
            return started + ended
        }
    }

    /// Stores result files, then moves the task on; files of a refused upload are removed again.
    public func uploadResults(_ commitment: String, files: [[UInt8]], by node: String) throws {
        let type = try read { state throws(RelayError) in
            guard let task = state.tasks[commitment] else { throw .notFound("Task not found") }
            return task.taskType
        }
        let written = try writeFiles(commitment, files, type: type)
        do {
            try perform { state, now throws(RelayError) in
                try state.uploadResults(commitment, files: files, by: node, now: now) { type, files in try ResultScores.score(type, files) }
            }
        } catch {
            for path in written { try? FileManager.default.removeItem(atPath: path) }
            if dataDirectory == nil { memoryFiles[commitment] = nil }
            throw error
        }
    }

    private func writeFiles(_ commitment: String, _ files: [[UInt8]], type: TaskType) throws -> [String] {
        guard let dataDirectory else {
            memoryFiles[commitment] = files
            return []
        }
        let dir = "\(dataDirectory)/inference_tasks/\(commitment)/results"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var paths: [String] = []
        for (i, file) in files.enumerated() {
            let path = "\(dir)/\(i).\(type == .llm ? "json" : "png")"
            try Data(file).write(to: URL(fileURLWithPath: path), options: .atomic)
            paths.append(path)
        }
        return paths
    }

    /// Result file `index` of a finished task, for its creator.
    public func result(_ commitment: String, index: Int, for creator: String) throws -> [UInt8] {
        let task = try read { state throws(RelayError) in try state.task(commitment, for: creator) }
        guard task.creator == creator else { throw RelayError.forbidden("Signer not allowed") }
        guard task.status == .endSuccess || task.status == .endGroupSuccess else { throw RelayError.validation("task_id_commitment", "Task results not uploaded") }
        if let dataDirectory {
            let path = "\(dataDirectory)/inference_tasks/\(commitment)/results/\(index).\(task.taskType == .llm ? "json" : "png")"
            guard let data = FileManager.default.contents(atPath: path) else { throw RelayError.notFound("Result file not found") }
            return Array(data)
        }
        guard let files = memoryFiles[commitment], index >= 0, index < files.count else { throw RelayError.notFound("Result file not found") }
        return files[index]
    }
}

/// `crynux relay`: the HTTP server, the SQLite store and the 2-second matching/deadline tick.
public enum RelayServer {
    /// Serves until the process is stopped. `dev` enables the faucet.
    public static func run(host: String, port: Int, dataDirectory: String, dev: Bool, config: RelayConfig) async throws {
        let service = try makeService(dataDirectory: dataDirectory, config: config)
        try await serve(service, host: host, port: port, dev: dev)
    }

    /// A relay over `<dataDirectory>/relay.sqlite`, result files beside it.
    public static func makeService(dataDirectory: String, config: RelayConfig) throws -> RelayService {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let store = try RelayStore(path: dataDirectory + "/relay.sqlite")
        return try RelayService(store: store, config: config, seed: UInt64.random(in: 0...UInt64.max), dataDirectory: dataDirectory)
    }

    /// Serves `service` over HTTP with the tick loop until cancelled.
    public static func serve(_ service: RelayService, host: String, port: Int, dev: Bool) async throws {
        let router = RelayHTTP.router(service: service, dev: dev)
        router.add(middleware: LogRequestsMiddleware(.debug))
        var logger = Logger(label: "crynux.relay")
        logger.logLevel = .info
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "crynux-relay"), logger: logger)
        let ticker = Task {
            while !Task.isCancelled {
                do { try await service.tick() } catch { logger.error("tick failed", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: .seconds(2))
            }
        }
        defer { ticker.cancel() }
        logger.info("relay listening", metadata: ["host": "\(host)", "port": "\(port)", "data": "\(service.dataDirectory ?? "memory")", "dev": "\(dev)"])
        try await app.runService()
    }
}
