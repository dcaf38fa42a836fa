import Foundation
import JobSupport
import PostgresNIO
import PhoenixSupabase
import Testing
import TestSupport
import PhoenixJobsCore
import PhoenixWorker

/// Batches PostgreSQL refuses in part: the refused items are split off and the others commit.
@Suite struct DataErrorIsolationTests {
    @Test func refusedRowsAreSplitOffAndTheOthersCommit() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            try await client.query("CREATE TABLE public.isolation_probe (n int PRIMARY KEY CHECK (n % 7 <> 0))")
            var writes = 0
            let errors = await DataErrorIsolation.write(Array(1...20)) { items in
                writes += 1
                do {
                    // One statement: all of its rows commit, or none.
                    try await client.query("INSERT INTO public.isolation_probe (n) SELECT unnest(\(items))")
                } catch {
                    throw DatabaseError.readable(error)
                }
            }
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.isolation_probe") == 18)
            let refused = errors.enumerated().filter { $0.element != nil }.map { $0.offset + 1 }
            #expect(refused == [7, 14])
            #expect(errors[6].map { "\($0)" }?.contains("23514") == true)
            #expect(errors[6] is PermanentFailure)
            // Splitting, not one statement per row.
            #expect(writes < 20)
        }
    }

    @Test func anyOtherErrorFailsTheWholeBatchToBeRetried() async {
        struct Unreachable: Error {}
        let errors = await DataErrorIsolation.write([1, 2, 3]) { _ in throw Unreachable() }
        #expect(errors.count == 3)
        #expect(errors.allSatisfy { $0 is Unreachable })
    }
}
