// Times ChatTemplate compilation and rendering; prints one JSON line of medians in microseconds.
// Usage: template-bench TEMPLATE.jinja CONVERSATION.json [ITERATIONS]
import CrynuxSDK
import Foundation

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: template-bench TEMPLATE CONVERSATION [ITERATIONS]\n".utf8))
    exit(2)
}
let iterations = args.count > 3 ? Int(args[3]) ?? 2000 : 2000
let source = try String(contentsOfFile: args[1], encoding: .utf8)
let conversation = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: args[2]))))
guard case .array(let messages)? = conversation["messages"], case .array(let tools)? = conversation["tools"] else { exit(2) }
let now = DateComponents(year: 2026, month: 11, day: 22, hour: 0, minute: 0, second: 0)

func median(_ samples: [Duration]) -> Double {
    let sorted = samples.sorted()
    let d = sorted[sorted.count / 2].components
    return Double(d.seconds) * 1e6 + Double(d.attoseconds) / 1e12
}

let clock = ContinuousClock()
var compileTimes: [Duration] = []
var template = try ChatTemplate(source: source)
for _ in 0..<iterations {
    compileTimes.append(try clock.measure { template = try ChatTemplate(source: source) })
}
var renderTimes: [Duration] = []
var length = 0
for _ in 0..<iterations {
    renderTimes.append(try clock.measure {
        let text = try template.render(
            messagesJSON: messages, tools: tools, addGenerationPrompt: true, bosToken: "", eosToken: "<|im_end|>", arguments: [:], now: now)
        length = text.utf8.count
    })
}
print("{\"impl\":\"crynux-swift\",\"compile_us\":\(median(compileTimes)),\"render_us\":\(median(renderTimes)),\"output_bytes\":\(length)}")
