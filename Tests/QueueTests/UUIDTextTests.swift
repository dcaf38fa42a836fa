import Foundation
import PhoenixJobsCore
import Testing

/// The hand-written UUID text reader and writer agree with Foundation's on every id.
@Suite struct UUIDTextTests {
    @Test func writesAndReadsWhatFoundationDoes() {
        var ids = (0..<10_000).map { _ in UUID() }
        ids += [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))]
        for id in ids {
            let text = UUIDText.lowercase(id)
            #expect(text == id.uuidString.lowercased())
            #expect(UUIDText.parse(text) == id)
            #expect(UUIDText.parse(id.uuidString) == id)
        }
    }

    @Test func refusesWhatIsNotAUUID() {
        let id = "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10"
        #expect(UUIDText.parse(id) != nil)
        for bad in [
            "6f1c1a52x3c39-4b1e-9a55-3c2f0f7e8d10", "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d1g", "g f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d1",
            "6f1c1a523c39-4b1e-9a55-3c2f0f7e8d10-", "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d1", "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d100",
            "+f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10", "", "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d1é",
        ] {
            #expect(UUIDText.parse(bad) == nil, "\(bad)")
        }
    }
}
