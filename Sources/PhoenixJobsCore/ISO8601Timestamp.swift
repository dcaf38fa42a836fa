import Foundation

/// Reads and writes ISO 8601 timestamps. Every fetched envelope carries one or two, in the form the queue writes
/// (`2026-11-25T12:00:00.123Z`: UTC, optional fraction), which are read here directly; Foundation's parser,
/// several times slower, reads every other form (offsets such as `+02:00`).
enum ISO8601Timestamp {
    /// The date, or nil when `text` is no ISO 8601 date-time.
    static func parse(_ text: String) -> Date? {
        if let date = parseUTC(text) { return date }
        return (try? JobEnvelope.iso8601.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` only; nil for any other text, valid or not.
    static func parseUTC(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            let count = bytes.count
            guard count >= 20, count <= 30, bytes[count - 1] == UInt8(ascii: "Z"),
                  bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
                  bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
            func number(_ start: Int, _ length: Int) -> Int? {
                var value = 0
                for index in start..<(start + length) {
                    let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                  (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
                  hour < 24, minute < 60, second < 60 else { return nil }
            var fraction = 0.0
            if count > 20 {
                let digits = count - 21
                guard bytes[19] == UInt8(ascii: "."), digits >= 1, let value = number(20, digits) else { return nil }
                fraction = Double(value) / pow(10, Double(digits))
            }
            let seconds = daysSince1970(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
            return Date(timeIntervalSince1970: Double(seconds) + fraction)
        }
    }

    /// `date` in the queue's form, `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, whole milliseconds, truncated; a date
    /// within half a microsecond of the next millisecond counts as that one, so that the text read back
    /// writes the same text again). Years 1–9999 are written here; others by Foundation.
    static func format(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000 + 0.0005).rounded(.down)
        guard milliseconds >= -62_135_596_800_000, milliseconds < 253_402_300_800_000 else { return date.formatted(JobEnvelope.iso8601) }
        let total = Int(milliseconds)
        var (days, inDay) = total.quotientAndRemainder(dividingBy: 86_400_000)
        if inDay < 0 { (days, inDay) = (days - 1, inDay + 86_400_000) }
        let (year, month, day) = civil(daysSince1970: days)
        var text = [UInt8]()
        text.reserveCapacity(24)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        digits(year, 4); text.append(UInt8(ascii: "-")); digits(month, 2); text.append(UInt8(ascii: "-")); digits(day, 2)
        text.append(UInt8(ascii: "T")); digits(inDay / 3_600_000, 2); text.append(UInt8(ascii: ":"))
        digits(inDay / 60_000 % 60, 2); text.append(UInt8(ascii: ":")); digits(inDay / 1000 % 60, 2)
        text.append(UInt8(ascii: ".")); digits(inDay % 1000, 3); text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    /// The date `days` after 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's civil_from_days).
    private static func civil(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days from 1970-01-01 to the date in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
