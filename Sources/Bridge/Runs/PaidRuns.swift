import Crypto
import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// The admitted request's rate-limit snapshot, for the headers.
    struct Admission {
        var key: BridgeStore.Key
        var limits: RateLimiter.Snapshot
    }

    /// Everything before paying: the model, the key's rate limits, the wallet's floor.
    func admit(_ key: BridgeStore.Key, model: String, offered: [String]) throws -> Admission {
        guard offered.contains(model), key.allows(model) else { throw OpenAIError.modelNotFound(model) }
        let snapshot = limiter.admit(key)
        if let wait = snapshot.retryAfter {
            var error = OpenAIError(
                status: 429,
                message: snapshot.refusedBy == "tokens"
                    ? "Rate limit reached: \(key.limits.tpm ?? 0) tokens per minute for this key. Try again in \(Int(wait.rounded(.up)))s."
                    : "Rate limit reached: \(key.limits.rpm ?? 0) requests per minute for this key. Try again in \(Int(wait.rounded(.up)))s.",
                type: "requests", param: nil, code: "rate_limit_exceeded")
            error.headers = Self.rateHeaders(snapshot).merging(["retry-after": String(max(1, Int(wait.rounded(.up))))]) { $1 }
            throw error
        }
        if let current = balance.current, current.balance < config.balanceFloor {
            throw OpenAIError(
                status: 503,
                message: "The Bridge's wallet balance (\(current.balance.cnxString) CNX) is below its floor (\(config.balanceFloor.cnxString) CNX): "
                    + "paid requests are paused until the wallet is topped up.",
                type: "server_error", param: nil, code: "insufficient_balance")
        }
        return Admission(key: key, limits: snapshot)
    }

    static func rateHeaders(_ s: RateLimiter.Snapshot) -> [String: String] {
        var h: [String: String] = [:]
        if let l = s.requestLimit {
            h["x-ratelimit-limit-requests"] = String(l)
            h["x-ratelimit-remaining-requests"] = String(s.requestsRemaining)
            h["x-ratelimit-reset-requests"] = "\(Int(s.requestsReset.rounded(.up)))s"
        }
        if let l = s.tokenLimit {
            h["x-ratelimit-limit-tokens"] = String(l)
            h["x-ratelimit-remaining-tokens"] = String(s.tokensRemaining)
            h["x-ratelimit-reset-tokens"] = "\(Int(s.tokensReset.rounded(.up)))s"
        }
        return h
    }

    /// Records the run (holding its fee against the key's budget) and starts it, or joins the earlier run with the
    /// same `Idempotency-Key`. The work runs detached: a client that goes away stops nothing that was paid for.
    func paidRun(
        _ admission: Admission, request: Request, requestID: String, kind: String, model: String, body: [UInt8], task: TaskRequest
    ) throws
        -> (work: Task<RunOutput, any Error>, run: BridgeStore.Run)
    {
        let idempotency = request.headers[.init("Idempotency-Key")!]
        if let idempotency, idempotency.isEmpty || idempotency.count > 255 {
            throw OpenAIError.invalid("Idempotency-Key", "The Idempotency-Key header must be 1–255 characters.")
        }
        let fingerprint = Hex.encode(SHA256.hash(data: Array(kind.utf8) + [0] + body))
        switch try config.store.reserve(
            keyID: admission.key.id, idempotency: idempotency, fingerprint: fingerprint, kind: kind, model: model, request: task,
            concurrency: config.keyConcurrency)
        {
        case .tooManyRuns(let limit):
            var e = OpenAIError(
                status: 429, message: "This key already has \(limit) paid requests in progress; wait for one to finish.", type: "requests",
                param: nil, code: "rate_limit_exceeded")
            e.headers = ["retry-after": "1"]
            throw e
        case .insufficientBudget(let remaining):
            throw OpenAIError(
                status: 429,
                message: "You exceeded your current quota: this key's budget has \(remaining.cnxString) CNX left and the request costs \(task.fee.cnxString) CNX.",
                type: "insufficient_quota", param: nil, code: "insufficient_quota")
        case .existing(let run):
            guard run.fingerprint == fingerprint else {
                throw OpenAIError.invalid("Idempotency-Key", "This Idempotency-Key was already used with a different request.", code: "idempotency_key_reused")
            }
            return (try join(run), run)
        case .reserved(let run):
            logger.info("paid run recorded", metadata: ["request_id": "\(requestID)", "run_id": "\(run.id)", "key_id": "\(run.keyID)", "model": "\(model)", "fee": "\(task.fee)"])
            return (execute(run), run)
        }
    }

    /// The task of an earlier run: its stored outcome, or the one still in flight.
    func join(_ run: BridgeStore.Run) throws -> Task<RunOutput, any Error> {
        var current = run
        for _ in 0..<2 {
            switch current.status {
            case "done": return Task { RunOutput(files: current.files ?? []) }
            case "failed":
                let message = current.error ?? "failed"
                return Task { throw Self.networkFailure(message) }
            default:
                if let t = registry.existing(current.id) { return t }
                // It finished between the two reads: read it again.
                guard let again = try config.store.run(id: current.id) else { break }
                current = again
            }
        }
        return execute(current)
    }

    static func networkFailure(_ message: String) -> OpenAIError {
        var e = OpenAIError(status: 500, message: "The network could not answer: \(message)", type: "server_error", param: nil, code: "network_error")
        e.headers = ["x-should-retry": "false"]
        return e
    }

    /// Runs a recorded run to its end on the network, then settles it in the store.
    func execute(_ run: BridgeStore.Run) -> Task<RunOutput, any Error> {
        registry.task(run.id) {
            Task {
                defer {
                    self.registry.remove(run.id)
                    self.live.remove(run.id)
                }
                return try await self.settle(run)
            }
        }
    }

    /// Runs `run` on the network and settles it in the store (the body of `execute`).
    private func settle(_ run: BridgeStore.Run) async throws -> RunOutput {
                let live = self.live
                let logger = self.logger
                // Past the queue timeout, tasks still waiting for a node are cancelled (refunded): the run then ends
                // without a result and its request gets a 504. A task already running is left to finish.
                let cancelled = CancelledFlag()
                let client = config.client, timeout = config.queueTimeout
                let watchdog = Task {
                    try await Task.sleep(for: timeout)
                    // Again every 2 s until the run ends: a task created late is cancelled on a later try.
                    while !Task.isCancelled {
                        if await client.cancelQueued(runID: run.id) {
                            cancelled.set()
                            return
                        }
                        try await Task.sleep(for: .seconds(2))
                    }
                }
                defer { watchdog.cancel() }
                do {
                    let started = ContinuousClock.now
                    let runID = run.id
                    var onText: (@Sendable (RelayClient.StreamDelta) -> Void)?
                    if run.request.taskType == .llm {
                        onText = { (delta: RelayClient.StreamDelta) in live.append(runID, index: delta.index, text: delta.text) }
                    }
                    let onEvent: @Sendable (TaskEvent) -> Void = { event in
                        if case .created(_, let commitment) = event {
                            logger.info("task created", metadata: ["run_id": "\(runID)", "task_commitment": "\(commitment)"])
                        }
                    }
                    let result = try await config.client.run(run.request, runID: run.id, onEvent: onEvent, onText: onText)
                    let networkSeconds = (ContinuousClock.now - started).seconds
                    var usage = BridgeStore.Usage(promptTokens: 0, completionTokens: 0, commitment: result.commitment)
                    if run.request.taskType == .llm {
                        let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0])
                        usage.promptTokens = response.usage.promptTokens
                        usage.completionTokens = response.usage.completionTokens
                    }
                    // Charge what the relay charged the wallet for the run's tasks (validation copies included).
                    let charged = await self.charges(of: run)?.charged ?? run.request.fee
                    do { try config.store.complete(runID: run.id, files: result.files, usage: usage, charged: charged) } catch {
                        // The network was paid: leave the run pending, so the next start settles it instead of refunding it.
                        logger.error("a finished run could not be recorded", metadata: ["run_id": "\(run.id)", "error": "\(error)"])
                        var e = OpenAIError(status: 500, message: "The answer could not be recorded; it will be settled on restart.", type: "server_error", param: nil, code: nil)
                        e.headers = ["x-should-retry": "false"]
                        throw e
                    }
                    limiter.record(tokens: usage.promptTokens + usage.completionTokens, for: run.keyID)
                    metrics.run(status: "done", usage: usage, fee: charged)
                    logger.info(
                        "paid run done",
                        metadata: ["run_id": "\(run.id)", "task_commitment": "\(result.commitment)", "tokens": "\(usage.promptTokens + usage.completionTokens)"])
                    Task { await self.balance.refresh(self.config.client) }
                    return RunOutput(files: result.files, networkSeconds: networkSeconds)
                } catch let error as OpenAIError {
                    throw error
                } catch let error where error is CancellationError || Task.isCancelled {
                    // Shutdown: the run stays pending and the next start settles it (the relay may still finish it).
                    logger.notice("paid run left pending for the next start", metadata: ["run_id": "\(run.id)"])
                    throw Self.handedOver
                } catch {
                    // A relay that stopped answering says nothing about the run: its tasks may still finish and be
                    // paid. The run stays pending (its hold kept) until the relay tells how its tasks ended.
                    guard !Self.isInDoubt(error), let charges = await self.charges(of: run), charges.settled else {
                        logger.warning("paid run in doubt: kept until the relay answers", metadata: ["run_id": "\(run.id)", "error": "\(error)"])
                        throw Self.inDoubt
                    }
                    try? config.store.fail(runID: run.id, error: cancelled.isSet ? "no node took the task in time" : "\(error)", charged: charges.charged)
                    metrics.run(status: "failed", usage: nil, fee: nil)
                    logger.warning("paid run failed", metadata: ["run_id": "\(run.id)", "error": "\(error)", "charged": "\(charges.charged)"])
                    if cancelled.isSet { throw Self.queueTimedOut(timeout) }
                    throw Self.networkFailure("\(error)")
                }
    }

    /// What the relay charged for the run's tasks, or nil when the relay cannot say now.
    func charges(of run: BridgeStore.Run) async -> (charged: Wei, settled: Bool)? {
        let client = config.client
        guard let commitments = try? await client.commitments(of: run.id) else { return nil }
        return try? await client.charges(for: commitments, fee: run.request.fee)
    }

    /// Whether `error` leaves the run's outcome unknown (the relay could not be reached or answered 5xx).
    static func isInDoubt(_ error: any Error) -> Bool {
        if let error = error as? RelayAPIError { return error.isRetryable }
        if let error = error as? CrynuxClientError { return error.isRetryable || (error.relayError?.isRetryable ?? false) }
        return false
    }

    /// Starts every pending run not in flight (runs in doubt, or left by a stopped process); returns how many.
    @discardableResult
    func reconcilePendingRuns() -> Int {
        let pending = (try? config.store.runs(status: "pending", limit: 1_000)) ?? []
        var started = 0
        for run in pending where registry.existing(run.id) == nil {
            logger.info("reconciling a paid run left pending", metadata: ["run_id": "\(run.id)", "key_id": "\(run.keyID)"])
            _ = execute(run)
            started += 1
        }
        return started
    }

    /// The 504 of a request whose task waited in the relay's queue past `queue_timeout_s` and was cancelled.
    static func queueTimedOut(_ timeout: Duration) -> OpenAIError {
        var e = OpenAIError(
            status: 504, message: "No node took this request's task within \(Int(timeout.seconds)) s; it was cancelled and nothing was charged.",
            type: "server_error", param: nil, code: "timeout")
        e.headers = ["retry-after": "30"]
        return e
    }

    /// The 503 of a request whose run's outcome is unknown because the relay stopped answering: its hold stays,
    /// and the Bridge settles it once the relay answers; a retry with the same Idempotency-Key gets its answer.
    static var inDoubt: OpenAIError {
        var e = OpenAIError(
            status: 503,
            message: "The network's relay stopped answering during this paid run; it is kept and settled once the relay answers. "
                + "Retry with the same Idempotency-Key to get its answer.",
            type: "server_error", param: nil, code: "relay_unavailable")
        e.headers = ["retry-after": "10"]
        return e
    }

    /// The 503 of a request whose paid run is handed to the next start (the Bridge is shutting down): the client
    /// retries with the same Idempotency-Key and gets the answer it paid for, once.
    static var handedOver: OpenAIError {
        var e = OpenAIError(
            status: 503, message: "The Bridge is restarting; this paid run continues after the restart. Retry with the same Idempotency-Key to get its answer.",
            type: "server_error", param: nil, code: "bridge_restarting")
        e.headers = ["retry-after": "5"]
        return e
    }
}
