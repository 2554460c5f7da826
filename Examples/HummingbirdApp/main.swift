// hummingbird-app: a Swift server app that calls the Crynux Network from its own route.
//
//   hummingbird-app --relay URL [--keystore FILE] [--faucet CNX] [--port 8082] [--runs DIR]
//   curl -s localhost:8082/ask -d '{"id":"q1","prompt":"What is 2+2?"}'
//
// POST /ask runs a chat task with CrynuxClient and answers with its text. Every run's progress (task ids, nonces,
// commitments) is saved in DIR through the SDK's ClientTaskStore seam before each relay call, so a run cut off by a
// restart is picked up again at the next start (its task is followed, not created and paid for twice), and the same
// request id asked again after a restart joins that run. GET /answers/{id} reads a finished answer.
import CrynuxSDK
import Foundation
import Hummingbird

/// A `ClientTaskStore` keeping each run as a JSON file, written atomically.
actor FileTaskStore: ClientTaskStore {
    let directory: URL
    init(directory: String) throws {
        self.directory = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }
    func file(_ id: String) -> URL { directory.appendingPathComponent(id.filter { $0.isLetter || $0.isNumber || $0 == "-" } + ".json") }
    func save(_ state: ClientTaskState) throws { try JSONEncoder().encode(state).write(to: file(state.id), options: .atomic) }
    func load(_ id: String) throws -> ClientTaskState? {
        guard let data = try? Data(contentsOf: file(id)) else { return nil }
        return try JSONDecoder().decode(ClientTaskState.self, from: data)
    }
    /// Runs saved but never finished.
    func unfinished() -> [ClientTaskState] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { try? load(String($0.dropLast(5))) }.filter { $0.resultCommitment == nil }
    }
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst(), let value = arguments.popFirst() { options[String(name.dropFirst(2))] = value }
guard let relay = options["relay"] else {
    FileHandle.standardError.write(Data("usage: hummingbird-app --relay URL [--keystore FILE] [--faucet CNX] [--port N] [--runs DIR]\n".utf8))
    exit(2)
}
let model = "HuggingFaceTB/SmolLM2-135M-Instruct"
let runs = options["runs"] ?? "runs"
let port = Int(options["port"] ?? "8082") ?? 8082
let store = try FileTaskStore(directory: runs)
let key: PrivateKey
if let keystore = options["keystore"] {
    let password = try KeystorePassword.read(file: nil, environmentValue: ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"])
    key = try Keystore.read(from: keystore).decrypt(password: password)
} else {
    key = .generate()
}
if let faucet = options["faucet"], let amount = Wei(cnx: faucet) { _ = try await RelayClient(baseURL: relay, key: key).requestFaucet(amount: amount) }
let client = CrynuxClient(relay: relay, wallet: key, store: store, validationRatePercent: 0)

/// Runs (or resumes) the chat of run `id` and returns its answer.
@Sendable func answer(_ prompt: String, id: String) async throws -> String {
    let args = GPTTaskArgs(model: model, messages: [.text(.user, prompt)], generationConfig: GenerationConfig(maxNewTokens: 64))
    try args.validate()
    let request = TaskRequest(taskType: .llm, taskArgs: args.jsonString, modelIDs: ["base:" + model.lowercased()], fee: Wei(cnx: 5))
    let result = try await client.run(request, runID: id)
    let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0])
    let text = response.choices.first?.message.content ?? ""
    try Data(text.utf8).write(to: URL(fileURLWithPath: runs + "/\(id).answer"), options: .atomic)
    return text
}

// Runs a previous process left unfinished go on in the background.
for state in await store.unfinished() {
    guard let args = try? GPTTaskArgs(json: Array(state.request.taskArgs.utf8)), case .text(let prompt)? = args.messages.last?.content else { continue }
    Task { _ = try? await answer(prompt, id: state.id) }
}

let router = Router()
router.post("/ask") { request, context -> String in
    struct Ask: Decodable { var id: String?; var prompt: String }
    let ask = try await request.decode(as: Ask.self, context: context)
    guard !ask.prompt.isEmpty, ask.prompt.count <= 4000 else { throw HTTPError(.badRequest, message: "prompt must be 1–4000 characters") }
    return try await answer(ask.prompt, id: ask.id ?? UUID().uuidString)
}
router.get("/answers/:id") { _, context -> String in
    let id = try context.parameters.require("id").filter { $0.isLetter || $0.isNumber || $0 == "-" }
    guard let data = FileManager.default.contents(atPath: runs + "/\(id).answer") else { throw HTTPError(.notFound) }
    return String(decoding: data, as: UTF8.self)
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
