import ArgumentParser
import CrynuxSDK
import EmbeddedNetwork
import Foundation
import NodeKit
import Relay

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [Engine.self, Network.self, Client.self, RelayLoad.self, RelayHistory.self])

    struct RelayHistory: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "relay-history",
            abstract: "Append finished tasks (with their ledger rows and events) to a relay's database, for bench-relay.sh.")
        @Option(name: .customLong("data-dir"), help: "The relay's data directory (relay.sqlite).") var dataDir: String
        @Option(help: "Finished tasks to append.") var tasks: Int
        func run() throws {
            guard (0...100_000_000).contains(tasks) else { throw CLIError("--tasks must be 0…100000000") }
            do {
                try DataDirectory.makePrivate(dataDir)
                let store = try RelayStore(path: dataDir + "/relay.sqlite")
                try store.appendSyntheticHistory(count: tasks) { done in
                    FileHandle.standardError.write(Data("\rhistory: \(done)/\(tasks) tasks".utf8))
                }
                FileHandle.standardError.write(Data("\n".utf8))
                try store.close()
            } catch { throw CLIError("\(error)", exitCode: 1) }
        }
    }

    struct RelayLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "relay",
            abstract: "Signed creates, reads and whole task lifecycles over HTTP against a running `crynux relay --dev --validation-rate 0`.",
            discussion: "Prints JSON lines: {\"op\", \"n\", \"p50_ms\", \"p99_ms\", \"per_s\"}.")
        @Option(help: "The relay's base URL.") var relay: String
        @Option(help: "Task creations (default 2000).") var creates = 2000
        @Option(help: "Requests in flight (default 1).") var concurrency = 1
        @Option(help: "Funded creators (default 8).") var creators = 8
        @Option(help: "Signed task reads after the creations (default 0).") var reads = 0
        @Option(name: .customLong("lifecycle-tasks"), help: "Whole tasks through nodes (default 0: none).") var lifecycleTasks = 0
        @Option(help: "Nodes for the lifecycle workload (default 8).") var nodes = 8
        func run() async throws {
            guard creates >= 0, reads >= 0, lifecycleTasks >= 0, (1...1024).contains(concurrency), (1...1024).contains(creators), (1...256).contains(nodes) else {
                throw CLIError("counts must be ≥ 0; --concurrency and --creators 1…1024, --nodes 1…256")
            }
            // `concurrency` is that of the creations and reads; the lifecycle steps run as many at once as nodes and creators.
            func line(_ op: String, _ f: RelayBenchmark.Figures, inFlight: Int? = nil) {
                guard !f.latency.samples.isEmpty else { return }
                emit(String(
                    format: #"{"op": "%@", "n": %d, "concurrency": %d, "p50_ms": %.3f, "p99_ms": %.3f, "per_s": %.1f}"#, op, f.latency.samples.count,
                    inFlight ?? concurrency, f.latency.median * 1000, f.latency.quantile(0.99) * 1000, f.perSecond))
            }
            do {
                let funded = try await RelayBenchmark.creators(relay: relay, count: creators)
                if creates > 0 {
                    line("create", try await RelayBenchmark.creates(count: creates, concurrency: concurrency, creators: funded))
                }
                if reads > 0 {
                    let listed = try await RelayBenchmark.oneTaskEach(creators: funded)
                    line("get", try await RelayBenchmark.reads(count: reads, concurrency: concurrency, tasks: listed))
                }
                if lifecycleTasks > 0 {
                    let l = try await RelayBenchmark.lifecycle(relay: relay, nodes: nodes, creators: funded, tasks: lifecycleTasks)
                    for (op, f) in [("lifecycle_create", l.create), ("lifecycle_get", l.get), ("lifecycle_score", l.score), ("lifecycle_validate", l.validate), ("lifecycle_upload", l.upload)] {
                        line(op, f, inFlight: nodes + creators)
                    }
                    emit(String(format: #"{"op": "lifecycle_tasks", "n": %d, "per_s": %.1f}"#, lifecycleTasks, l.tasksPerSecond))
                }
            } catch { throw CLIError("\(error)", exitCode: 1) }
        }
    }

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The network's own latency for a 1-token chat: the SDK client straight to RELAY, sequentially (the Bridge benchmark's baseline).",
            discussion: "Prints one line: network p50_ms=… p99_ms=… mean_ms=… n=… samples_ms=a,b,…")
        @Option(help: "The relay's base URL.") var relay: String
        @Option(help: "The paying keystore.") var wallet: String
        @OptionGroup var password: PasswordOptions
        @Option(help: "Measured chats (default 200).") var count = 200
        @Option(help: "Warm-up chats (default 10).") var warmup = 10
        @Option(help: "The user message.") var message = "What is 2+2?"
        @Option(help: "The model id.") var model = "HuggingFaceTB/SmolLM2-135M-Instruct"
        func run() async throws {
            guard count >= 1, warmup >= 0 else { throw CLIError("--count must be positive") }
            let key = try password.key(from: wallet)
            let times: LatencySummary
            do {
                times = try await NetworkBenchmark.client(relay: relay, key: key, model: model, message: message, count: count, warmup: warmup)
            } catch { throw CLIError("\(error)", exitCode: 1) }
            let samples = times.samples.map { String(format: "%.3f", $0 * 1000) }.joined(separator: ",")
            emit(
                String(
                    format: "network p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f n=%d", times.median * 1000, times.quantile(0.99) * 1000, times.mean * 1000,
                    times.samples.count) + " samples_ms=" + samples)
        }
    }

    struct Network: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time from CrynuxClient.run to the result for 1-token chats on a local relay + node, minus the engine's own time.")
        @Option(help: "The .gguf file (default: the bundled model).") var model: String?
        @Option(help: "Measured runs (default 20).") var runs = 20
        @Option(name: .customLong("node-poll-ms"), help: "The node's poll interval (default 20).") var nodePoll = 20
        @Option(name: .customLong("client-poll-ms"), help: "The client's first poll interval (default 10).") var clientPoll = 10
        func run() async throws {
            guard runs >= 1, nodePoll >= 1, clientPoll >= 1 else { throw CLIError("--runs and the poll intervals must be positive") }
            let path = model ?? (ModelStore.defaultDirectory(environment: environment) + "/" + CatalogModel.bundled.fileName)
            let f: NetworkBenchmark.Figures
            do {
                f = try await NetworkBenchmark.run(modelPath: path, runs: runs, nodePoll: .milliseconds(nodePoll), clientPoll: .milliseconds(clientPoll))
            } catch { throw CLIError("\(error)", exitCode: 1) }
            let ms = { (s: Double) in String(format: "%.1f ms", s * 1000) }
            emit("1-token chat over the local network, \(runs) runs (node polls every \(nodePoll) ms, client from \(clientPoll) ms):")
            emit("  run → result: median \(ms(f.totals.median)), p90 \(ms(f.totals.quantile(0.9)))")
            emit("  inference alone (same task, same engine): median \(ms(f.inference.median))")
            emit("  relay/protocol overhead: median \(ms(f.totals.median - f.inference.median))")
        }
    }

    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prompt and decode tokens/s of the engine on a GGUF model.")
        @Option(help: "The .gguf file.") var model: String
        @Option(name: .customLong("prompt-tokens"), help: "Prompt length (default 128).") var promptTokens = 128
        @Option(name: .customLong("decode-tokens"), help: "Tokens to generate (default 128).") var decodeTokens = 128
        @Option(help: "Threads (default 1).") var threads = 1
        @Flag(help: "Print JSON lines (as scripts/bench-engine.sh reads them).") var json = false
        func run() throws {
            guard threads >= 1, threads <= 256 else { throw CLIError("--threads must be 1…256") }
            let result: EngineBenchmark.Result
            do {
                result = try EngineBenchmark.run(
                    model: try LlamaModel(path: model), promptTokens: promptTokens, decodeTokens: decodeTokens, threads: threads)
            } catch { throw CLIError("\(error)") }
            if json {
                emit("{\"impl\": \"crynux\", \"kind\": \"prompt\", \"tps\": \(result.promptTokensPerSecond)}")
                emit("{\"impl\": \"crynux\", \"kind\": \"decode\", \"tps\": \(result.decodeTokensPerSecond)}")
                emit(
                    "{\"impl\": \"crynux\", \"kind\": \"memory\", \"peak\": \(result.peakResidentBytes), \"file\": \(result.modelFileBytes), \"kv\": \(result.kvCacheBytes)}")
            } else {
                let prompt = String(format: "%.1f", result.promptTokensPerSecond)
                let decode = String(format: "%.1f", result.decodeTokensPerSecond)
                emit("prompt \(promptTokens) tokens: \(prompt) tokens/s; decode \(decodeTokens) tokens: \(decode) tokens/s (\(threads) thread(s))")
                let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1e6) }
                let other = result.peakResidentBytes - result.modelFileBytes - result.kvCacheBytes
                emit("peak memory \(mb(result.peakResidentBytes)): model file \(mb(result.modelFileBytes)) + KV cache \(mb(result.kvCacheBytes)) + \(mb(other)) other")
            }
        }
    }
}
