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

/// Ids from ``RandomUUID`` are version-4 UUIDs that do not repeat, across many refills of its buffer.
@Suite struct RandomUUIDTests {
    @Test func idsAreVersionFourAndDistinct() async {
        let ids = await withTaskGroup(of: [UUID].self) { group in
            for _ in 0..<4 { group.addTask { (0..<25_000).map { _ in RandomUUID.make() } } }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.uuid.6 >> 4 == 4 && $0.uuid.8 >> 6 == 2 })
        // Every value of the first byte shows up: the bytes are not stuck.
        #expect(Set(ids.map(\.uuid.0)).count == 256)
    }
}
