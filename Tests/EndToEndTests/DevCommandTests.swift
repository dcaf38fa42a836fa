import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LocalServers
import Testing
import TestSupport

/// `phoenix dev --demo` as a newcomer runs it: its own Redis and PostgreSQL, every worker type, the demo
/// jobs, the dashboard (read by headless Chromium where it is installed), and a clean Ctrl-C.
@Suite struct DevCommandTests {
    @Test func devDemoRunsEveryJobTypeShowsThemOnTheDashboardAndStopsCleanly() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-dev-\(UUID().uuidString)")
        let log = data.appendingPathExtension("log")
        defer {
            try? FileManager.default.removeItem(at: data)
            try? FileManager.default.removeItem(at: log)
        }
        // Port 0: the server binds a port of the kernel's choice and the guide prints it, so that no other test
        // can take the port between its choice and the bind.
        let dev = try ChildProcess(PhoenixCLI.executable, ["dev", "--demo", "--data", data.path, "--port", "0"], environment: [
            "REDIS_URL": "", "DATABASE_URL": "", "SUPABASE_DB_URL": "", "LOG_LEVEL": "warning", "DASHBOARD_PASSWORD": "e2e-dashboard-password",
        ], outputPath: log.path)
        let output = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        do {
            try await eventually("phoenix dev is running", timeout: .seconds(180), interval: .milliseconds(250)) {
                if dev.hasExited { throw DevExited() }
                return output().contains("Phoenix Jobs is running")
            }
        } catch {
            // Ctrl-C stops its servers too; a run stuck past 30 s more is killed.
            dev.send(SIGINT)
            if (try? await eventually("phoenix dev stopped", timeout: .seconds(30), { dev.hasExited })) == nil { dev.send(SIGKILL) }
            Issue.record("\(error); phoenix dev printed:\n\(output())")
            return
        }
        for line in ["event (event.publish) → completed", "profile sync (profile.sync) → completed", "letter (letter.generate) → completed", "CV (cv.render) → completed"] {
            #expect(output().contains("demo: \(line)"), "missing: \(line)\n\(output())")
        }
        let base = try #require(output().firstMatch(of: /dashboard:  (http:\/\/127\.0\.0\.1:\d+)\/dashboard/)?.1).description

        // The dashboard, through a service token the guide printed.
        let token = try #require(output().firstMatch(of: /Bearer ([A-Za-z0-9_.-]+)/)?.1).description
        var request = URLRequest(url: URL(string: "\(base)/dashboard")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (body, _) = try await URLSession.shared.data(for: request)
        Self.checkDashboard(String(decoding: body, as: UTF8.self))

        // A real browser, where Debian's chromium is installed: it signs in with the password and renders the page,
        // which then follows the job events live.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") {
            let login = data.appendingPathComponent("login.html")
            try #"<form method="post" action="\#(base)/dashboard/login"><input name="credential" value="e2e-dashboard-password"></form><script>document.forms[0].submit()</script>"#
                .write(to: login, atomically: true, encoding: .utf8)
            let (status, output) = try await ChildProcess.run("/usr/bin/python3", [
                RepositoryFiles.url("scripts/lib/headless-browser.py").path, login.absoluteString,
                #"wait:location.pathname === "/dashboard" && document.body.dataset.live === "open""#,
                "print:document.documentElement.outerHTML",
            ])
            #expect(status == 0, "\(output)")
            let dom = try JSONDecoder().decode(String.self, from: Data(output.trimmingCharacters(in: .whitespacesAndNewlines).utf8))
            Self.checkDashboard(dom)
        } else {
            print("DevCommandTests: /usr/bin/chromium is not installed; the browser check was skipped (the HTTP check above ran)")
        }

        dev.send(SIGINT)
        let status = await dev.exited()
        #expect(ChildProcess.exitCode(ofStatus: status) == 0)
        #expect(output().contains("stopped PostgreSQL") && output().contains("stopped redis-server"))
    }

    /// `phoenix dev` ended before it said it was running.
    struct DevExited: Error, CustomStringConvertible {
        var description: String { "phoenix dev exited before it was running" }
    }

    /// Every queue has its row, and each demo job's queue shows it completed.
    static func checkDashboard(_ html: String) {
        for queue in ["events", "profiles", "letters", "cv", "diagnostics"] {
            let row = html.firstMatch(of: try! Regex(#"<tr data-queue="\#(queue)">(.*?)</tr>"#).dotMatchesNewlines())
            let completed = (row?.output[1].substring).flatMap { String($0).firstMatch(of: /class="num completed">(\d+)</)?.1 }.flatMap { Int($0) }
            #expect(completed != nil, "no row for \(queue)")
            #expect((completed ?? 0) >= 1, "\(queue) shows no completed job")
        }
    }
}
