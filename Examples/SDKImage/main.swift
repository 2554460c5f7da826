// sdk-image: one Stable Diffusion task on the Crynux Network through the SDK; the PNGs are written to the current folder.
//
//   sdk-image --relay https://relay.crynux.io --keystore FILE [--model crynux-network/sdxl-turbo] [--count 1] "a red fox"
//
// It needs a network whose nodes serve the image model (the public network does; the embedded CPU network does not).
import CrynuxSDK
import Foundation

var options: [String: String] = [:]
var prompt = ""
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument.hasPrefix("--"), let value = arguments.popFirst() { options[String(argument.dropFirst(2))] = value } else { prompt = argument }
}
guard let relay = options["relay"], let keystore = options["keystore"], !prompt.isEmpty else {
    FileHandle.standardError.write(Data("usage: sdk-image --relay URL --keystore FILE [--model ID] [--count N] PROMPT\n".utf8))
    exit(2)
}

do {
    let password = try KeystorePassword.read(file: nil, environmentValue: ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"])
    let key = try Keystore.read(from: keystore).decrypt(password: password)
    let model = options["model"] ?? "crynux-network/sdxl-turbo"
    var args = SDTaskArgs(
        baseModel: .object(name: model, variant: "fp16"), prompt: prompt,
        taskConfig: SDTaskConfig(imageWidth: 512, imageHeight: 512, steps: 1, seed: Int.random(in: 0..<100_000_000), numImages: Int(options["count"] ?? "1") ?? 1, cfg: 0))
    args.scheduler = .eulerAncestral(timestepSpacing: "trailing")
    try args.validate()
    let client = CrynuxClient(relay: relay, wallet: key)
    let images = try await client.generateImages(args, baseModel: model, onEvent: { event in
        FileHandle.standardError.write(Data("progress: \(event)\n".utf8))
    })
    for (i, png) in images.enumerated() {
        let name = "image-\(i).png"
        try Data(png).write(to: URL(fileURLWithPath: name))
        print(name)
    }
} catch {
    FileHandle.standardError.write(Data("sdk-image: \(error)\n".utf8))
    exit(1)
}
