#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import Prometheus

/// What the process uses and may use, read from Linux's `/proc` and cgroup files (in-memory files: reading
/// them does not wait on a disk), exported under the names Prometheus client libraries use
/// (`process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds`, `process_virtual_memory_bytes`) and the limits the memory and CPU alerts
/// divide by: `phoenix_process_memory_limit_bytes` and `phoenix_process_cpu_limit_cores` (the container's
/// cgroup limits, else the machine's memory and processors).
public struct ProcessSample: Sendable, Equatable {
    public var residentMemoryBytes: Double
    public var virtualMemoryBytes: Double
    public var cpuSeconds: Double
    public var startTimeSeconds: Double
    public var openFileDescriptors: Double
    public var maxFileDescriptors: Double
    public var memoryLimitBytes: Double
    public var cpuLimitCores: Double

    /// The current process's figures; nil where `/proc` is not Linux's.
    public static func current() -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let times = ProcStat(stat),
              let bootTime = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(Self.bootTime) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        var limit = rlimit()
        let maxFiles = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : 0
        let cgroup = CgroupLimits.current()
        return ProcessSample(
            residentMemoryBytes: Double(times.residentPages) * pageSize, virtualMemoryBytes: Double(times.virtualBytes),
            cpuSeconds: Double(times.userTicks + times.systemTicks) / ticks, startTimeSeconds: bootTime + Double(times.startTicks) / ticks,
            openFileDescriptors: Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0),
            maxFileDescriptors: maxFiles,
            memoryLimitBytes: cgroup.memoryBytes ?? Double(ProcessInfo.processInfo.physicalMemory),
            cpuLimitCores: cgroup.cores ?? Double(ProcessInfo.processInfo.activeProcessorCount)
        )
    }

    /// Sets the gauges of `registry` to these figures.
    public func export(to registry: PrometheusCollectorRegistry) {
        for (name, help, value) in [
            ("process_resident_memory_bytes", "Resident memory size in bytes.", residentMemoryBytes),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes.", virtualMemoryBytes),
            ("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", cpuSeconds),
            ("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", startTimeSeconds),
            ("process_open_fds", "Open file descriptors.", openFileDescriptors),
            ("process_max_fds", "Most file descriptors the process may open.", maxFileDescriptors),
            ("phoenix_process_memory_limit_bytes", "Memory the process may use: its cgroup's memory.max, else the machine's memory.", memoryLimitBytes),
            ("phoenix_process_cpu_limit_cores", "Processors the process may use: its cgroup's cpu.max quota, else the machine's processors.", cpuLimitCores),
        ] {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: []).set(value)
        }
    }

    /// The machine's boot time (`btime` of `/proc/stat`), in seconds since 1970.
    static func bootTime(_ stat: String) -> Double? {
        stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) }
    }
}

/// The fields of `/proc/self/stat` the sample needs (proc(5)): the command name in parentheses may hold
/// spaces and parentheses, so the fields are counted after its last `)`.
struct ProcStat: Equatable {
    var userTicks, systemTicks, startTicks: Int
    var virtualBytes, residentPages: Int

    init?(_ text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // Field 3 (state) is the first after the name; field n is at index n - 3.
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ number: Int) -> Int? { fields.count > number - 3 ? Int(fields[number - 3]) : nil }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23), let resident = field(24) else { return nil }
        (userTicks, systemTicks, startTicks, virtualBytes, residentPages) = (user, system, start, virtual, resident)
    }
}

/// The memory and CPU limits of the process's cgroup (v2: `memory.max`, `cpu.max`; v1: `memory.limit_in_bytes`,
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us`); nil where none is set.
struct CgroupLimits: Equatable {
    var memoryBytes: Double?
    var cores: Double?

    static func current() -> CgroupLimits {
        let read = { (path: String) in try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        // v2: one hierarchy; `0::/path` in /proc/self/cgroup names the process's folder under /sys/fs/cgroup.
        if let membership = read("/proc/self/cgroup"), let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            let folder = "/sys/fs/cgroup" + (line.dropFirst(3) == "/" ? "" : String(line.dropFirst(3)))
            if read("\(folder)/memory.max") != nil || read("\(folder)/cpu.max") != nil {
                return CgroupLimits(v2MemoryMax: read("\(folder)/memory.max"), cpuMax: read("\(folder)/cpu.max"))
            }
        }
        return CgroupLimits(
            v1MemoryLimit: read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            quota: read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), period: read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        )
    }

    /// From cgroup v2 files: `memory.max` is bytes or `max`; `cpu.max` is `<quota> <period>` or `max <period>`.
    init(v2MemoryMax: String?, cpuMax: String?) {
        memoryBytes = v2MemoryMax.flatMap(Double.init)
        let parts = cpuMax?.split(separator: " ") ?? []
        cores = parts.count == 2 ? Double(parts[0]).flatMap { quota in Double(parts[1]).map { quota / $0 } } : nil
    }

    /// From cgroup v1 files: an unlimited memory limit is a huge number (above 2^62), an unlimited quota -1.
    init(v1MemoryLimit: String?, quota: String?, period: String?) {
        memoryBytes = v1MemoryLimit.flatMap(Double.init).flatMap { $0 < 0x1p62 ? $0 : nil }
        cores = quota.flatMap(Double.init).flatMap { quota in quota > 0 ? period.flatMap(Double.init).map { quota / $0 } : nil }
    }
}
