import EnvironmentVariables
public import Foundation

/// Prints HTML to PDF with headless Chromium (`--print-to-pdf`), when it is installed: `CHROMIUM_PATH`, or
/// `chromium`, `chromium-browser`, `google-chrome` or `google-chrome-stable` on the `PATH`.
public struct PDFRenderer: Sendable {
    /// The Chromium executable, if one was found.
    public let executable: String?
    /// The longest a print may take.
    let timeout: Duration
    /// Where each print gets a folder of its own for the page and Chromium's profile.
    let scratch: URL

    /// A renderer using the Chromium `environment` names, or none found, printing in folders under `scratch`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, timeout: Duration = .seconds(60), scratch: URL = FileManager.default.temporaryDirectory) {
        self.timeout = timeout
        self.scratch = scratch
        if let configured = environment[.chromiumPath], !configured.isEmpty {
            executable = FileManager.default.isExecutableFile(atPath: configured) ? configured : nil
            return
        }
        let folders = (environment[.path] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        executable = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"].lazy
            .flatMap { name in folders.map { "\($0)/\(name)" } }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Why no PDF was made, or nil when Chromium is available.
    public var unavailableReason: String? {
        executable == nil ? "skipped: Chromium is not installed (set CHROMIUM_PATH or install chromium)" : nil
    }

    /// The PDF of `html`.
    /// - Throws: ``PDFRenderError`` when Chromium is missing, fails, or takes longer than the timeout.
    public func render(html: String) async throws(PDFRenderError) -> Data {
        guard let executable else { throw PDFRenderError("Chromium is not installed") }
        let folder = scratch.appendingPathComponent("phoenix-pdf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = folder.appendingPathComponent("cv.html")
        let output = folder.appendingPathComponent("cv.pdf")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(html.utf8).write(to: page)
        } catch {
            throw PDFRenderError("cannot write the page to print: \(error)")
        }
        let arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-pdf-header-footer",
            "--user-data-dir=\(folder.appendingPathComponent("profile").path)", "--print-to-pdf=\(output.path)", page.absoluteString,
        ]
        let status = try await Self.run(executable, arguments, timeout: timeout)
        guard status == 0, let pdf = try? Data(contentsOf: output), pdf.starts(with: Array("%PDF".utf8)) else {
            throw PDFRenderError("Chromium exited with status \(status) without writing a PDF")
        }
        return pdf
    }

    /// Runs a process to its end without blocking a thread while it runs; stops it at the timeout, and when the
    /// calling task is cancelled (a job cancelled while it ran): then it throws once the process has ended.
    private static func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws(PDFRenderError) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exit = AsyncStream<Int32> { continuation in
            process.terminationHandler = { finished in
                continuation.yield(finished.terminationStatus)
                continuation.finish()
            }
        }
        do {
            try process.run()
        } catch {
            throw PDFRenderError("cannot start \(executable): \(error)")
        }
        // Stops Chromium at the timeout; its value says whether it had to.
        let watchdog = Task { () -> Bool in
            do { try await Task.sleep(for: timeout) } catch { return false }
            process.terminate()
            return true
        }
        // The stream is read in a task of its own: a cancelled reader would stop reading before Chromium ended.
        let ended = Task { () -> Int32? in
            var status: Int32?
            for await exitStatus in exit { status = exitStatus }
            return status
        }
        let status = await withTaskCancellationHandler {
            await ended.value
        } onCancel: {
            process.terminate()
        }
        watchdog.cancel()
        if Task.isCancelled { throw PDFRenderError("cancelled: Chromium was stopped") }
        if await watchdog.value { throw PDFRenderError("Chromium took longer than \(timeout) and was stopped") }
        guard let status else { throw PDFRenderError("Chromium ended without an exit status") }
        return status
    }
}

/// Chromium could not print the CV.
public struct PDFRenderError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
