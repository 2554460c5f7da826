import Testing
@testable import NodeKit

@Suite struct NodeHardwareTests {
    @Test func gpuIdentityFollowsTheReferenceNode() {
        #expect(NodeHardware.nvidia(csv: "NVIDIA GeForce RTX 4090, 24564\n") == NodeHardware(gpuName: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24))
        // The largest group of identical cards, its VRAM summed and rounded up.
        let mixed = "NVIDIA A100 80GB PCIe, 81920\nNVIDIA GeForce RTX 3060, 12288\nNVIDIA A100 80GB PCIe, 81920\n"
        #expect(NodeHardware.nvidia(csv: mixed) == NodeHardware(gpuName: "2x NVIDIA A100 80GB PCIe+Linux", gpuVRAM: 160))
        #expect(NodeHardware.nvidia(csv: "NVIDIA GeForce RTX 3060, 12001", platform: "docker")?.gpuVRAM == 12)
        #expect(NodeHardware.nvidia(csv: "") == nil && NodeHardware.nvidia(csv: "garbage") == nil)
        let here = NodeHardware.detect()
        #expect(here.gpuName.hasSuffix("+Linux") && here.gpuVRAM >= 1)
    }
}
