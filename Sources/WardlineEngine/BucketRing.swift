/// A fixed ring of time buckets with running totals over the newest buckets: the bounded memory
/// and O(1)-per-reading cost behind the sliding windows.
///
/// Readings accumulate in the open bucket; when time moves into the next bucket the open one closes
/// into the ring, and each span's totals add it and subtract the bucket that just left the span.
/// Spans therefore cover closed buckets only: the "last minute" ends where the open bucket begins.
/// Closed buckets keep `Float` sums (12 bytes a bucket); totals are `Double` sums of those same
/// `Float`s, so what is added is exactly what is later subtracted, and they are recomputed from the
/// buckets every sixteenth time the ring wraps in case rounding ever crept in (amortised O(1)). The ring's
/// storage is allocated on the first value, so a vital a patient's devices never measure costs
/// nothing.
struct BucketRing {
    struct Bucket {
        var sum: Float = 0
        var sumOfSquares: Float = 0
        var count: UInt32 = 0
    }

    /// Count, sum and sum of squares over a span of buckets, and how many of them hold data.
    struct Totals {
        var count: Int = 0
        var sum: Double = 0
        var sumOfSquares: Double = 0
        var filled: Int = 0

        @inline(__always)
        mutating func add(_ b: Bucket) {
            guard b.count > 0 else { return }
            count += Int(b.count)
            sum += Double(b.sum)
            sumOfSquares += Double(b.sumOfSquares)
            filled += 1
        }

        @inline(__always)
        mutating func subtract(_ b: Bucket) {
            guard b.count > 0 else { return }
            count -= Int(b.count)
            sum -= Double(b.sum)
            sumOfSquares -= Double(b.sumOfSquares)
            filled -= 1
        }

        static func - (a: Totals, b: Totals) -> Totals {
            Totals(count: a.count - b.count, sum: a.sum - b.sum, sumOfSquares: a.sumOfSquares - b.sumOfSquares,
                   filled: a.filled - b.filled)
        }

        var summary: WindowSummary {
            guard count > 0 else { return WindowSummary(count: 0, mean: nil, standardDeviation: nil) }
            let n = Double(count)
            let mean = sum / n
            let sd: Double? = count < 2 ? nil : max(0, (sumOfSquares - sum * mean) / (n - 1)).squareRoot()
            return WindowSummary(count: count, mean: mean, standardDeviation: sd)
        }
    }

    let width: Int64
    private let size: Int
    /// Span lengths in buckets, each at most the ring's size.
    private let spanLengths: [Int]
    private var buckets: ContiguousArray<Bucket> = []
    private var totals: ContiguousArray<Totals> = []
    private var head = 0
    private var wraps: UInt16 = 0
    private var openStart: Int64 = .min
    private var openCount: UInt32 = 0
    private var openSum: Double = 0
    private var openSumOfSquares: Double = 0

    init(width: Int64, count: Int, spans: [Int]) {
        precondition(width > 0 && count > 0 && spans.allSatisfy { $0 > 0 && $0 <= count })
        self.width = width
        size = count
        spanLengths = spans
    }

    /// The totals of span `s` (zero before the first value).
    func span(_ s: Int) -> Totals { totals.isEmpty ? Totals() : totals[s] }

    enum Added { case inOpenBucket, closedBuckets, tooOld }

    /// Adds one value at `time` (ms). Values older than the open bucket are refused: the windows
    /// move forward only, and a late reading cannot be slotted into a bucket already summed.
    mutating func add(_ value: Double, at time: Int64) -> Added {
        let start = time - ((time % width) + width) % width
        var result = Added.inOpenBucket
        if openStart == .min {
            buckets = ContiguousArray(repeating: Bucket(), count: size)
            totals = ContiguousArray(repeating: Totals(), count: spanLengths.count)
            openStart = start
        } else if start < openStart {
            return .tooOld
        } else if start > openStart {
            advance(to: start)
            result = .closedBuckets
        }
        openCount &+= 1
        openSum += value
        openSumOfSquares += value * value
        return result
    }

    /// Closes the open bucket and any empty ones a gap left, up to the bucket starting at `start`.
    private mutating func advance(to start: Int64) {
        let steps = (start - openStart) / width
        if steps > Int64(size) {
            // The gap is longer than the whole ring: nothing in it is recent any more.
            for i in buckets.indices { buckets[i] = Bucket() }
            for i in totals.indices { totals[i] = Totals() }
        } else {
            push(Bucket(sum: Float(openSum), sumOfSquares: Float(openSumOfSquares), count: openCount))
            for _ in 1..<max(1, Int(steps)) { push(Bucket()) }
        }
        openStart = start
        openCount = 0
        openSum = 0
        openSumOfSquares = 0
    }

    private mutating func push(_ bucket: Bucket) {
        let n = size
        head = head + 1 == n ? 0 : head + 1
        let h = head
        let lengths = spanLengths
        buckets.withUnsafeMutableBufferPointer { b in
            totals.withUnsafeMutableBufferPointer { t in
                for s in 0..<t.count {
                    // For a span as long as the ring, the bucket leaving is the one about to be overwritten.
                    var leaving = h - lengths[s]
                    if leaving < 0 { leaving += n }
                    t[s].subtract(b[leaving])
                    t[s].add(bucket)
                }
            }
            b[h] = bucket
        }
        if h == 0 {
            wraps &+= 1
            if wraps % 16 == 0 { recomputeTotals() }
        }
    }

    private mutating func recomputeTotals() {
        let n = size
        for s in totals.indices {
            var t = Totals()
            for back in 0..<spanLengths[s] { t.add(buckets[(head - back + n) % n]) }
            totals[s] = t
        }
    }
}

/// Count, mean and standard deviation (sample, n − 1) of the readings in one window.
public struct WindowSummary: Sendable, Hashable {
    public var count: Int
    public var mean: Double?
    public var standardDeviation: Double?
}
