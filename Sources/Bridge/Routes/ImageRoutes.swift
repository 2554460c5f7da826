import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// The Crynux bridge's image model aliases (its own misspelling of runwayml included, so its clients keep working).
    static let imageAliases = [
        "stabilityai/sdxl-turbo": "crynux-network/sdxl-turbo",
        "stabilityai/stable-diffusion-xl-base-1.0": "crynux-network/stable-diffusion-xl-base-1.0",
        "runwayml/stable-diffusion-v1-5": "crynux-network/stable-diffusion-v1-5",
        "ruwnayml/stable-diffusion-v1-5": "crynux-network/stable-diffusion-v1-5",
    ]

    /// `POST /v1/images/generations` (and the Crynux alias `/v1/images`): a Stable Diffusion task, answered as base64 PNGs.
    func images(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let key = try key(request)
        let (body, bytes) = try await Self.body(request, context)
        let known: Set<String> = [
            "model", "prompt", "n", "size", "response_format", "output_format", "quality", "style", "user", "seed", "negative_prompt", "steps",
        ]
        if case .object(let members) = body, let unknown = members.first(where: { !known.contains($0.key) }) {
            throw OpenAIError.invalid(unknown.key, "Unrecognized request argument supplied: \(unknown.key)", code: "unsupported_parameter")
        }
        guard let prompt = body["prompt"]?.stringValue, !prompt.isEmpty, prompt.count <= 4000 else {
            throw OpenAIError.invalid("prompt", "prompt must be a string of 1–4000 characters.")
        }
        if let format = body["output_format"]?.stringValue, format != "png" {
            throw OpenAIError.invalid("output_format", "Only output_format png is produced by the network.", code: "unsupported_parameter")
        }
        guard let requested = body["model"]?.stringValue ?? config.imageModels.first else {
            throw OpenAIError(
                status: 404, message: "This Bridge's network serves no image model.", type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = body[name], v != .null else { return nil }
            guard let d = v.doubleValue, let i = Int(exactly: d), range.contains(i) else {
                throw OpenAIError.invalid(name, "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound).")
            }
            return i
        }
        let n = try int("n", 1...4) ?? 1
        var width = 512, height = 512
        if let size = body["size"], size != .null {
            let parts = size.stringValue?.split(separator: "x").compactMap { Int($0) } ?? []
            guard parts.count == 2, parts.allSatisfy({ (256...2048).contains($0) && $0 % 8 == 0 }) else {
                throw OpenAIError.invalid("size", "size is WIDTHxHEIGHT, each 256–2048 and a multiple of 8, such as 512x512 or 1024x1024.")
            }
            (width, height) = (parts[0], parts[1])
        }
        if let format = body["response_format"]?.stringValue, format != "b64_json" {
            throw OpenAIError.invalid("response_format", "Only response_format b64_json is supported: the Bridge does not host image files.", code: "unsupported_parameter")
        }
        if let quality = body["quality"]?.stringValue, !["standard", "auto"].contains(quality) {
            throw OpenAIError.invalid("quality", "quality must be standard or auto.", code: "unsupported_parameter")
        }
        if let style = body["style"], style != .null { throw OpenAIError.invalid("style", "style is not supported.", code: "unsupported_parameter") }
        let seed = try int("seed", 0...Int(Int32.max))
        let steps = try int("steps", 1...100)
        var negative: String?
        if let neg = body["negative_prompt"], neg != .null {
            guard let text = neg.stringValue else { throw OpenAIError.invalid("negative_prompt", "negative_prompt must be a string.") }
            negative = text
        }
        let model = Self.imageAliases[requested] ?? requested
        let admission = try admit(key, model: model, offered: config.imageModels)
        // The Crynux bridge's defaults: fp16 variants of its own models, SDXL-Turbo in one Euler-A step without guidance,
        // 25 steps otherwise, no safety checker, a random seed below 1e8.
        let turbo = model.hasSuffix("sdxl-turbo"), sd15 = model.hasSuffix("stable-diffusion-v1-5")
        var args = SDTaskArgs(
            baseModel: model.hasPrefix("crynux-network/") ? .object(name: model, variant: "fp16") : .name(model), prompt: prompt,
            negativePrompt: negative,
            taskConfig: SDTaskConfig(
                imageWidth: width, imageHeight: height, steps: steps ?? (turbo ? 1 : 25), seed: seed ?? Int.random(in: 0..<100_000_000), numImages: n,
                safetyChecker: false, cfg: turbo ? 0 : (sd15 ? 7 : nil)))
        if turbo { args.scheduler = .eulerAncestral(timestepSpacing: "trailing") }
        do { try args.validate() } catch { throw OpenAIError.invalid("prompt", "\(error)") }
        let task = TaskRequest(
            taskType: .sd, taskArgs: args.jsonString, modelIDs: ["base:" + model], fee: config.imageFee * UInt64(n),
            minVRAM: sd15 ? 8 : (turbo ? 14 : 10), taskSize: n)
        let (work, _) = try paidRun(admission, request: request, requestID: context.requestID, kind: "image", model: model, body: bytes, task: task)
        let files = try await work.value.files
        return Self.withHeaders(
            Self.json(
                .ok,
                .object([
                    JSONMember("created", .integer(Int64(Date().timeIntervalSince1970))),
                    JSONMember("data", .array(files.map { .object([JSONMember("b64_json", .string(Data($0).base64EncodedString()))]) })),
                ])), Self.rateHeaders(admission.limits))
    }
}
