import Foundation
import LocalServers
import NIOHTTP1
import PhoenixQueue
import Testing
import TestSupport

/// The dashboard in headless Chromium (driven by `scripts/lib/headless-browser.py` over the DevTools pipe): its
/// pages follow jobs live, without reloading, and its bulk actions work through the real forms.
@Suite struct DashboardBrowserTests {
    static let chromium = "/usr/bin/chromium"

    @Test func theDashboardFollowsJobsLiveAndItsSearchResultsTakeBulkActions() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.chromium) else {
            print("DashboardBrowserTests: \(Self.chromium) is not installed; skipped (make test installs it)")
            return
        }
        try await LiveAPI.run { api in
            let user = UUID().uuidString.lowercased()
            _ = try await DashboardTests.submit(api, #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(user)"}}"#)
            let watched = try await DashboardTests.submit(api, #"{"type": "diagnostic.noop", "delaySeconds": 3600, "payload": {"user_id": "\#(user)"}}"#)
            for index in 0..<2 { _ = try await DashboardTests.submit(api, #"{"type": "diagnostic.fail", "payload": {"message": "boom \#(index)", "permanent": true}}"#) }
            try await eventually("one completed, two dead") {
                let stats = try await api.queue.stats(queue: "diagnostics")
                return stats.completed == 1 && stats.dead == 2
            }

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-browser-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let login = folder.appendingPathComponent("login.html")
            try #"<form method="post" action="\#(api.base)/dashboard/login"><input name="credential" value="dashboard-test-password"></form><script>document.forms[0].submit()</script>"#
                .write(to: login, atomically: true, encoding: .utf8)
            let output = folder.appendingPathComponent("browser.log")
            let browser = try ChildProcess("/usr/bin/python3", [RepositoryFiles.url("scripts/lib/headless-browser.py").path, login.absoluteString] + [
                // The overview: live, then a job submitted now shows in the feed and the queue's row, with no reload.
                #"wait:location.pathname === "/dashboard" && document.body.dataset.live === "open""#,
                #"run:window.phoenixMarker = "overview""#,
                "mark:overview",
                #"wait:document.querySelector('#live tr[data-event="completed"]') !== null && document.querySelector('tr[data-queue="diagnostics"] .completed')?.textContent === "2""#,
                #"print:[window.phoenixMarker, [...document.querySelectorAll('#live tr')].map(row => row.dataset.job + " " + row.dataset.event)]"#,
                // A job's page: its state and history change as it is cancelled.
                #"run:location.href = "/dashboard/jobs/\#(watched)""#,
                #"wait:location.pathname.startsWith("/dashboard/jobs/") && document.body.dataset.live === "open""#,
                #"run:window.phoenixMarker = "job page""#,
                "mark:job",
                #"wait:document.getElementById("job-state")?.textContent.startsWith("cancelled")"#,
                #"print:[window.phoenixMarker, [...document.querySelectorAll('#history tr[data-event]')].map(row => row.dataset.event)]"#,
                // The search, then a bulk discard through the form.
                #"run:location.href = "/dashboard/search?type=diagnostic.fail&state=dead""#,
                #"wait:document.querySelectorAll('#results tr[data-job]').length === 2 && document.body.dataset.script === "ready""#,
                #"run:document.getElementById("select-all").click(); document.querySelector('#bulk-results button[value="discard"]').click()"#,
                #"wait:document.getElementById("notice")?.textContent === "Discarded 2 of 2 jobs.""#,
                #"print:document.querySelectorAll('#results tr[data-job]').length"#,
            ], outputPath: output.path)
            let lines = { (try? String(contentsOf: output, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? [] }

            try await eventually("the overview is live", timeout: .seconds(60)) { lines().contains("mark overview") || browser.hasExited }
            let fresh = try await DashboardTests.submit(api, #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(user)"}}"#)
            try await eventually("the job page is live", timeout: .seconds(60)) { lines().contains("mark job") || browser.hasExited }
            let cancel = try await api.call(.DELETE, "/v1/jobs/\(watched)", token: try await api.minter.service())
            #expect(cancel.status == 200)

            let status = await browser.exited()
            let printed = lines()
            #expect(ChildProcess.exitCode(ofStatus: status) == 0, "\(printed)")
            let values = printed.filter { !$0.hasPrefix("mark ") }
            try #require(values.count == 3, "\(printed)")
            // The feed got the new job's events on the page as loaded (the marker survived: no reload).
            #expect(values[0].hasPrefix(#"["overview", ["#))
            for event in ["queued", "started", "completed"] { #expect(values[0].contains("\(fresh) \(event)"), "\(values[0])") }
            #expect(values[1] == #"["job page", ["cancelled", "queued"]]"#)
            #expect(values[2] == "0")
            #expect(try await api.queue.stats(queue: "diagnostics").dead == 0)
        }
    }
}
