#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A chart of load-test results as a standalone SVG 1.1 document.
///
/// The chart is a title, a few lines describing the run, and panels stacked vertically. Each
/// panel plots series of points over labelled axes, with a legend naming each series. The chart
/// knows nothing of the bench's report types: the caller turns results into series.
///
/// The document is deterministic (the same chart gives the same bytes), numbers are formatted
/// without a locale, all text is XML-escaped, and non-finite values never reach the output.
///
/// ```swift
/// let chart = BenchChart(
///     title: "mesh bench fanout",
///     subtitle: ["mesh bench fanout --nodes 3 --rate 10000", "commit 1a2b3c4, 2 cores"],
///     panels: [
///         .init(
///             title: "Latency percentiles", xLabel: "percentile", yLabel: "latency (µs)",
///             categoricalX: true, logarithmicY: true,
///             series: [
///                 .init(name: "node-a mesh", group: "node-a", points: [.init(label: "p50", y: 120)]),
///                 .init(name: "node-a raw", group: "node-a", line: .dashed, points: [.init(label: "p50", y: 80)]),
///             ]
///         ),
///     ]
/// )
/// let document = chart.svg()
/// ```
public struct BenchChart: Sendable, Equatable {
    /// How a series' line is drawn, so that two runs of the same source can be told apart.
    public enum LineStyle: Sendable, Equatable {
        /// A solid line with filled markers (for example the mesh run).
        case solid
        /// A dashed line with hollow markers (for example the raw baseline run).
        case dashed
    }

    /// One measured value.
    public struct Point: Sendable, Equatable {
        /// The horizontal value; ignored in a categorical panel when `label` is set.
        public var x: Double
        /// The measured value.
        public var y: Double
        /// The category of the point in a categorical panel (such as "p99" or "sub-0"); in
        /// other panels it only names the point in its tooltip.
        public var label: String?

        /// Creates a point at a numeric position.
        /// - Parameters:
        ///   - x: The horizontal value.
        ///   - y: The measured value.
        ///   - label: An optional name for the point, the category in a categorical panel.
        public init(x: Double, y: Double, label: String? = nil) {
            self.x = x
            self.y = y
            self.label = label
        }

        /// Creates a point of a categorical panel.
        /// - Parameters:
        ///   - label: The category, such as "p99" or a node's name.
        ///   - y: The measured value.
        public init(label: String, y: Double) {
            self.init(x: 0, y: y, label: label)
        }
    }

    /// A named line of points in a panel.
    public struct Series: Sendable, Equatable {
        /// The name shown in the legend and in the points' tooltips.
        public var name: String
        /// Series with the same group share a colour across all panels (such as a node's mesh
        /// and raw runs); `nil` stands for the series' own name.
        public var group: String?
        /// How the line and its markers are drawn.
        public var line: LineStyle
        /// The points, joined in order of their horizontal position. Points with a NaN or
        /// infinite value are left out; magnitudes beyond 1e300 are drawn as 1e300.
        public var points: [Point]

        /// Creates a series.
        /// - Parameters:
        ///   - name: The name shown in the legend.
        ///   - group: The colour group; `nil` gives the series a colour of its own.
        ///   - line: How the line and its markers are drawn.
        ///   - points: The points.
        public init(name: String, group: String? = nil, line: LineStyle = .solid, points: [Point]) {
            self.name = name
            self.group = group
            self.line = line
            self.points = points
        }
    }

    /// How a panel draws its points.
    public enum Mark: Sendable, Equatable {
        /// A marker on every point, joined by the series' line.
        case lines
        /// In a categorical panel, a bar per point, the series side by side in each category
        /// (a dashed series' bars are pale with a dashed outline) and the values above the bars
        /// when they all fit; in other panels, the same as `lines`.
        case bars
    }

    /// One plot of the chart: axes, series and a legend.
    public struct Panel: Sendable, Equatable {
        /// The heading above the plot.
        public var title: String
        /// The title of the horizontal axis.
        public var xLabel: String
        /// The title of the vertical axis, with its unit (such as "latency (µs)").
        public var yLabel: String
        /// Whether the horizontal axis lists the points' labels, in order of first appearance,
        /// instead of placing their `x` values on a scale.
        public var categoricalX: Bool
        /// Whether the horizontal scale is logarithmic (decade ticks); ignored when
        /// `categoricalX` is set. Values of zero or less are drawn on the axis' left edge.
        public var logarithmicX: Bool
        /// Whether the vertical scale is logarithmic (decade ticks), as suits latencies. Values
        /// of zero or less are drawn on the bottom edge, a decade below the smallest positive
        /// value. A linear vertical scale always includes zero.
        public var logarithmicY: Bool
        /// How the points are drawn.
        public var mark: Mark
        /// The series; a panel without any point shows "no data".
        public var series: [Series]

        /// Creates a panel.
        /// - Parameters:
        ///   - title: The heading above the plot.
        ///   - xLabel: The title of the horizontal axis.
        ///   - yLabel: The title of the vertical axis.
        ///   - categoricalX: Whether the horizontal axis lists the points' labels.
        ///   - logarithmicX: Whether a numeric horizontal scale is logarithmic.
        ///   - logarithmicY: Whether the vertical scale is logarithmic.
        ///   - mark: How the points are drawn.
        ///   - series: The series.
        public init(
            title: String,
            xLabel: String,
            yLabel: String,
            categoricalX: Bool = false,
            logarithmicX: Bool = false,
            logarithmicY: Bool = false,
            mark: Mark = .lines,
            series: [Series]
        ) {
            self.title = title
            self.xLabel = xLabel
            self.yLabel = yLabel
            self.categoricalX = categoricalX
            self.logarithmicX = logarithmicX
            self.logarithmicY = logarithmicY
            self.mark = mark
            self.series = series
        }
    }

    /// The heading of the chart.
    public var title: String
    /// Lines under the heading that describe the run, such as the command, the commit and the
    /// machine; long lines are wrapped.
    public var subtitle: [String]
    /// The panels, from top to bottom.
    public var panels: [Panel]

    /// Creates a chart.
    /// - Parameters:
    ///   - title: The heading of the chart.
    ///   - subtitle: Lines that describe the run.
    ///   - panels: The panels, from top to bottom.
    public init(title: String, subtitle: [String] = [], panels: [Panel]) {
        self.title = title
        self.subtitle = subtitle
        self.panels = panels
    }

    /// Renders the chart as a standalone SVG 1.1 document.
    /// - Returns: The document, starting with an XML declaration, to be written as UTF-8.
    public func svg() -> String {
        BenchChartRenderer(chart: self).document()
    }
}

// MARK: - Numbers

/// Locale-free, deterministic number formatting and the clamping that keeps values finite.
enum ChartNumber {
    /// The largest magnitude drawn; larger finite values are clamped to it.
    static let largest = 1e300
    /// The smallest nonzero magnitude drawn; smaller ones count as zero.
    static let smallest = 1e-300

    /// A value fit to draw: `nil` for NaN and infinities, huge values clamped, tiny ones zero.
    static func clean(_ value: Double) -> Double? {
        guard value.isFinite else { return nil }
        if abs(value) < smallest { return 0 }
        return min(max(value, -largest), largest)
    }

    /// 10 to the power `exponent`.
    static func power10(_ exponent: Int) -> Double {
        pow(10, Double(exponent))
    }

    /// The decade of a positive value: ⌊log10(value)⌋, exact at powers of ten.
    static func decade(_ value: Double) -> Int {
        guard value > 0, value.isFinite else { return 0 }
        var exponent = Int(log10(value).rounded(.down))
        if power10(exponent) > value {
            exponent -= 1
        } else if power10(exponent + 1) <= value {
            exponent += 1
        }
        return exponent
    }

    /// `value` with exactly `decimals` digits after the point (no exponent), or in scientific
    /// notation when it is too large for that.
    static func fixed(_ value: Double, decimals: Int) -> String {
        let decimals = min(max(decimals, 0), 15)
        let scaled = (abs(value) * power10(decimals)).rounded()
        guard scaled.isFinite, scaled < 9e15 else { return scientific(value, significant: 4) }
        var digits = String(UInt64(scaled))
        if decimals > 0 {
            if digits.count <= decimals {
                digits = String(repeating: "0", count: decimals + 1 - digits.count) + digits
            }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return (value < 0 && scaled != 0 ? "-" : "") + digits
    }

    /// A formatted number without trailing zeros after the point, nor a trailing point.
    static func trimmed(_ text: String) -> String {
        guard text.contains("."), !text.contains("e") else { return text }
        var text = Substring(text)
        while text.hasSuffix("0") { text = text.dropLast() }
        if text.hasSuffix(".") { text = text.dropLast() }
        return String(text)
    }

    /// `value` in scientific notation such as "2.5e15", with at most `significant` digits.
    static func scientific(_ value: Double, significant: Int) -> String {
        guard let value = clean(value), value != 0 else { return "0" }
        var exponent = decade(abs(value))
        let decimals = min(max(significant - 1, 0), 12)
        var mantissa = (abs(value) / power10(exponent) * power10(decimals)).rounded() / power10(decimals)
        if mantissa >= 10 {
            mantissa /= 10
            exponent += 1
        }
        return (value < 0 ? "-" : "") + trimmed(fixed(mantissa, decimals: decimals)) + "e" + String(exponent)
    }

    /// The SI-style suffixes used for large values: thousands, millions, billions, trillions.
    private static let suffixes: [(divisor: Double, suffix: String)] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]

    /// The divisor and suffix for values up to `magnitude`.
    private static func suffix(for magnitude: Double) -> (divisor: Double, suffix: String) {
        suffixes.first { magnitude >= $0.divisor } ?? (1, "")
    }

    /// `value` with at most `significant` significant digits, such as "12.5k", "0.25" or
    /// "3e-7".
    static func compact(_ value: Double, significant: Int = 4) -> String {
        guard let value = clean(value), value != 0 else { return "0" }
        let significant = min(max(significant, 1), 12)
        let unit = power10(decade(abs(value)) - significant + 1)
        let rounded = (abs(value) / unit).rounded() * unit
        guard rounded < 1e15, rounded >= 1e-4 else { return scientific(value, significant: significant) }
        let (divisor, suffix) = suffix(for: rounded)
        let scaled = rounded / divisor
        let decimals = max(0, significant - 1 - decade(scaled))
        return (value < 0 ? "-" : "") + trimmed(fixed(scaled, decimals: decimals)) + suffix
    }

    /// Labels for evenly spaced ticks: a shared suffix ("k", "M", …) chosen from the largest
    /// tick and just enough decimals to tell the ticks apart.
    static func axisLabels(_ ticks: [Double], step: Double) -> [String] {
        let magnitude = ticks.map { abs($0) }.max() ?? 0
        guard magnitude > 0, step > 0 else { return ticks.map { _ in "0" } }
        if magnitude >= 1e15 || magnitude < 1e-4 {
            let significant = min(max(decade(magnitude) - decade(step) + 2, 1), 6)
            return ticks.map { $0 == 0 ? "0" : scientific($0, significant: significant) }
        }
        let (divisor, suffix) = suffix(for: magnitude)
        let scaledStep = step / divisor
        var decimals = max(0, -decade(scaledStep))
        while decimals < 12 {
            let shifted = scaledStep * power10(decimals)
            if abs(shifted - shifted.rounded()) <= 1e-6 * shifted { break }
            decimals += 1
        }
        return ticks.map { tick in
            let text = trimmed(fixed(tick / divisor, decimals: decimals))
            return text == "0" || text == "-0" ? "0" : text + suffix
        }
    }

    /// A coordinate in the document, with at most one decimal.
    static func coordinate(_ value: Double) -> String {
        let value = value.isFinite ? min(max(value, -1e7), 1e7) : 0
        return trimmed(fixed(value, decimals: 1))
    }
}

// MARK: - Axes

/// One axis of a panel: maps values to a fraction of the axis' length and lists its ticks.
struct ChartAxis: Equatable {
    /// How values are placed along the axis.
    enum Scale: Equatable {
        /// Evenly, from `lower` to `upper`.
        case linear(lower: Double, upper: Double)
        /// By decade, from 10^`lower` to 10^`upper`.
        case logarithmic(lower: Int, upper: Int)
        /// Category `i` of `count` at the middle of the `i`-th of `count` equal bands.
        case categorical(count: Int)
    }

    /// A labelled position on the axis.
    struct Tick: Equatable {
        var value: Double
        var label: String
    }

    var scale: Scale
    var ticks: [Tick]
    /// Unlabelled positions drawn as faint grid lines (the 2…9 steps of a logarithmic axis).
    var minorTicks: [Double] = []

    /// Where `value` lies along the axis, from 0 (start) to 1 (end), clamped.
    func fraction(_ value: Double) -> Double {
        let fraction: Double
        switch scale {
        case let .linear(lower, upper):
            fraction = (value - lower) / (upper - lower)
        case let .logarithmic(lower, upper):
            guard value > 0 else { return 0 }
            fraction = (log10(value) - Double(lower)) / Double(upper - lower)
        case let .categorical(count):
            fraction = (value + 0.5) / Double(max(count, 1))
        }
        return fraction.isFinite ? min(max(fraction, 0), 1) : 0
    }

    /// A linear axis over `values` with round ticks about `targetCount` apart.
    /// - Parameters:
    ///   - values: Finite values to show; an empty list gives 0…1.
    ///   - includeZero: Whether the axis starts (or ends) at zero.
    ///   - targetCount: About how many intervals between ticks.
    static func linear(_ values: [Double], includeZero: Bool, targetCount: Int) -> ChartAxis {
        var lower = values.min() ?? 0
        var upper = values.max() ?? 0
        if includeZero {
            lower = min(lower, 0)
            upper = max(upper, 0)
        }
        if !(upper - lower > max(abs(lower), abs(upper)) * 1e-9) {
            // A single value, or all values equal: centre them in a range of their own size.
            let pad = lower == 0 ? 1 : abs(lower) * 0.1
            if includeZero && lower == 0 {
                upper = 1
            } else {
                lower -= pad
                upper += pad
            }
        }
        let raw = (upper - lower) / Double(max(targetCount, 1))
        let magnitude = ChartNumber.power10(ChartNumber.decade(raw))
        let normalized = raw / magnitude
        let nice: Double = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 2.5 ? 2.5 : normalized <= 5 ? 5 : 10
        let step = nice * magnitude
        let first = (lower / step).rounded(.down) * step
        let last = (upper / step).rounded(.up) * step
        let count = Int(((last - first) / step).rounded())
        let values = (0...max(count, 1)).map { index -> Double in
            let value = first + Double(index) * step
            return abs(value) < step * 1e-9 ? 0 : value
        }
        let labels = ChartNumber.axisLabels(values, step: step)
        return ChartAxis(
            scale: .linear(lower: values[0], upper: values[values.count - 1]),
            ticks: zip(values, labels).map { Tick(value: $0, label: $1) }
        )
    }

    /// A logarithmic axis over `values` with a tick at every decade (or every few decades when
    /// they are many). Values of zero or less extend the axis a decade down, to be drawn on
    /// its start.
    static func logarithmic(_ values: [Double]) -> ChartAxis {
        let positive = values.filter { $0 > 0 }
        var lower = 0
        var upper = 1
        if let smallest = positive.min(), let largest = positive.max() {
            lower = ChartNumber.decade(smallest)
            upper = ChartNumber.decade(largest)
            if ChartNumber.power10(upper) < largest { upper += 1 }
            if upper == lower {
                lower -= 1
                upper += 1
            }
        }
        if values.contains(where: { $0 <= 0 }) { lower -= 1 }
        lower = max(lower, -310)
        upper = min(max(upper, lower + 1), 310)
        let every = max(1, (upper - lower + 7) / 8)
        upper = lower + every * ((upper - lower + every - 1) / every)
        let ticks = stride(from: lower, through: upper, by: every).map { exponent in
            Tick(value: ChartNumber.power10(exponent), label: decadeLabel(exponent))
        }
        var minor: [Double] = []
        if every == 1 && upper - lower <= 6 {
            for exponent in lower..<upper {
                for multiple in 2...9 { minor.append(Double(multiple) * ChartNumber.power10(exponent)) }
            }
        }
        return ChartAxis(scale: .logarithmic(lower: lower, upper: upper), ticks: ticks, minorTicks: minor)
    }

    /// The label of 10^`exponent`: "1", "10", "1k", "0.01", or "1e18" beyond the suffixes.
    static func decadeLabel(_ exponent: Int) -> String {
        (-4..<15).contains(exponent) ? ChartNumber.compact(ChartNumber.power10(exponent)) : "1e" + String(exponent)
    }

    /// Whether the axis lists categories.
    var isCategorical: Bool {
        if case .categorical = scale { return true }
        return false
    }

    /// A categorical axis with one labelled band per name.
    static func categorical(_ names: [String]) -> ChartAxis {
        ChartAxis(
            scale: .categorical(count: names.count),
            ticks: names.enumerated().map { Tick(value: Double($0.offset), label: $0.element) }
        )
    }
}

// MARK: - Rendering

/// Lays out a `BenchChart` and writes it as SVG.
struct BenchChartRenderer {
    /// A point ready to draw: its horizontal value (the category's index in a categorical
    /// panel), its cleaned value, and its name for the tooltip.
    struct PlottedPoint {
        var x: Double
        var y: Double
        var name: String
    }

    /// A series ready to draw.
    struct PlottedSeries {
        var name: String
        var line: BenchChart.LineStyle
        var colour: String
        var points: [PlottedPoint]
    }

    /// A panel ready to draw; the axes are `nil` when it has no point.
    struct PlottedPanel {
        var panel: BenchChart.Panel
        var series: [PlottedSeries]
        var x: ChartAxis?
        var y: ChartAxis?
    }

    /// Colour-blind-safe colours (Okabe–Ito, then brown and grey), one per group in order.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#7F7F7F"]

    static let width = 960.0
    static let margin = 20.0
    static let fontSize = 12.0
    static let minimumPlotHeight = 250.0
    static let emptyPlotHeight = 100.0
    static let legendRow = 20.0
    static let legendSwatch = 30.0
    static let noData = "no data"
    /// The most characters of a tick label or legend name before it is cut with "…".
    static let labelCharacters = 24

    let chart: BenchChart

    /// The whole document.
    func document() -> String {
        var groups: [String] = []
        for panel in chart.panels {
            for series in panel.series where !groups.contains(series.group ?? series.name) {
                groups.append(series.group ?? series.name)
            }
        }
        let panels = chart.panels.map { plot($0, groups: groups) }

        // Shared horizontal layout, so that the panels' plot areas line up.
        let legendNames = panels.filter { $0.x != nil }.flatMap { $0.series.map { fitted($0.name, characters: Self.labelCharacters) } }
        let legendText = legendNames.map { textWidth($0, size: Self.fontSize) }.max() ?? 0
        let legendWidth = legendNames.isEmpty ? 0 : Self.legendSwatch + 8 + legendText
        let yTickWidth = panels.flatMap { $0.y?.ticks.map { textWidth($0.label, size: Self.fontSize) } ?? [] }.max() ?? 0
        let plotLeft = Self.margin + 16 + 10 + max(yTickWidth, 12) + 10
        let plotRight = Self.width - Self.margin - (legendWidth > 0 ? legendWidth + 24 : 0)

        var body = SVGBody()
        var top = Self.margin + 16
        body.text(chart.title, x: Self.margin, y: top, size: 20, weight: "bold")
        let columns = Int((Self.width - 2 * Self.margin) / (Self.fontSize * 0.6))
        for line in chart.subtitle.flatMap({ wrapped($0, columns: columns) }) {
            top += 18
            body.text(line, x: Self.margin, y: top, size: Self.fontSize, fill: "#555555")
        }
        top += 20
        if panels.isEmpty {
            top += 20
            body.text(Self.noData, x: Self.width / 2, y: top, size: 14, anchor: "middle", fill: "#888888")
            top += 20
        }
        for panel in panels {
            top = draw(panel, top: top, plotLeft: plotLeft, plotRight: plotRight, legendWidth: legendWidth, into: &body)
        }
        let height = (top + Self.margin).rounded(.up)

        let width = ChartNumber.coordinate(Self.width)
        let heightText = ChartNumber.coordinate(height)
        var document = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
        document += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(width)\" height=\"\(heightText)\" viewBox=\"0 0 \(width) \(heightText)\""
        document += " font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"\(ChartNumber.coordinate(Self.fontSize))\">\n"
        document += "<title>\(SVGBody.escaped(chart.title))</title>\n"
        if !chart.subtitle.isEmpty {
            document += "<desc>\(SVGBody.escaped(chart.subtitle.joined(separator: " | ")))</desc>\n"
        }
        document += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(heightText)\" fill=\"#ffffff\"/>\n"
        document += body.text
        document += "</svg>\n"
        return document
    }

    /// Cleans a panel's points and makes its axes.
    func plot(_ panel: BenchChart.Panel, groups: [String]) -> PlottedPanel {
        var categories: [String] = []
        var plotted: [PlottedSeries] = []
        for series in panel.series {
            var points: [PlottedPoint] = []
            for point in series.points {
                guard let y = ChartNumber.clean(point.y) else { continue }
                let x = ChartNumber.clean(point.x)
                if panel.categoricalX {
                    guard let name = point.label ?? x.map({ ChartNumber.compact($0) }) else { continue }
                    let index = categories.firstIndex(of: name) ?? categories.count
                    if index == categories.count { categories.append(name) }
                    points.append(PlottedPoint(x: Double(index), y: y, name: name))
                } else {
                    guard let x else { continue }
                    points.append(PlottedPoint(x: x, y: y, name: point.label ?? ChartNumber.compact(x)))
                }
            }
            // In order of position; points at the same position keep their order.
            points = points.enumerated()
                .sorted { $0.element.x != $1.element.x ? $0.element.x < $1.element.x : $0.offset < $1.offset }
                .map(\.element)
            let group = groups.firstIndex(of: series.group ?? series.name) ?? 0
            plotted.append(PlottedSeries(name: series.name, line: series.line, colour: Self.palette[group % Self.palette.count], points: points))
        }
        let xs = plotted.flatMap { $0.points.map(\.x) }
        let ys = plotted.flatMap { $0.points.map(\.y) }
        guard !ys.isEmpty else { return PlottedPanel(panel: panel, series: plotted, x: nil, y: nil) }
        let x: ChartAxis
        if panel.categoricalX {
            x = .categorical(categories)
        } else if panel.logarithmicX {
            x = .logarithmic(xs)
        } else {
            x = .linear(xs, includeZero: false, targetCount: 7)
        }
        let y: ChartAxis = panel.logarithmicY ? .logarithmic(ys) : .linear(ys, includeZero: true, targetCount: 5)
        return PlottedPanel(panel: panel, series: plotted, x: x, y: y)
    }

    /// Draws one panel from `top` down.
    /// - Returns: Where the next panel starts.
    func draw(
        _ plotted: PlottedPanel,
        top: Double,
        plotLeft: Double,
        plotRight: Double,
        legendWidth: Double,
        into body: inout SVGBody
    ) -> Double {
        let panel = plotted.panel
        body.raw("<g>\n")
        defer { body.raw("</g>\n") }
        body.text(panel.title, x: Self.margin, y: top + 16, size: 15, weight: "bold")
        let plotTop = top + 34
        let hasData = plotted.x != nil
        let legendHeight = hasData ? Double(plotted.series.count) * Self.legendRow + 8 : 0
        let plotHeight = hasData ? max(Self.minimumPlotHeight, legendHeight) : Self.emptyPlotHeight
        let plotBottom = plotTop + plotHeight
        let plotWidth = plotRight - plotLeft

        // Horizontal tick labels: rotated when a category's band is too narrow for them, and
        // only every few when even rotated ones would touch.
        var xLabelExtra = 0.0
        var rotate = false
        var every = 1
        if let x = plotted.x, case let .categorical(count) = x.scale {
            let band = plotWidth / Double(max(count, 1))
            let widest = x.ticks.map { textWidth(fitted($0.label, characters: Self.labelCharacters), size: Self.fontSize) }.max() ?? 0
            if widest + 8 > band {
                rotate = true
                xLabelExtra = widest * 0.64 + 2
                every = Int((16 / band).rounded(.up))
            }
        }
        let xTitleY = plotBottom + (hasData ? 22 + xLabelExtra : 0) + 20
        let yPosition = { (value: Double) in plotBottom - (plotted.y?.fraction(value) ?? 0) * plotHeight }
        let xPosition = { (value: Double) in plotLeft + (plotted.x?.fraction(value) ?? 0) * plotWidth }

        // Axis titles.
        body.text(panel.xLabel, x: plotLeft + plotWidth / 2, y: xTitleY, size: 13, anchor: "middle")
        let yTitleX = Self.margin + 12
        let yTitleY = plotTop + plotHeight / 2
        body.text(
            panel.yLabel, x: yTitleX, y: yTitleY, size: 13, anchor: "middle",
            transform: "rotate(-90 \(ChartNumber.coordinate(yTitleX)) \(ChartNumber.coordinate(yTitleY)))"
        )

        guard let xAxis = plotted.x, let yAxis = plotted.y else {
            body.rect(x: plotLeft, y: plotTop, width: plotWidth, height: plotHeight, fill: "#fafafa", stroke: "#cccccc")
            body.text(Self.noData, x: plotLeft + plotWidth / 2, y: plotTop + plotHeight / 2 + 5, size: 14, anchor: "middle", fill: "#888888")
            return xTitleY + 24
        }

        // Grid.
        for value in yAxis.minorTicks {
            let y = yPosition(value)
            body.line(x1: plotLeft, y1: y, x2: plotRight, y2: y, stroke: "#f2f2f2")
        }
        for tick in yAxis.ticks {
            let y = yPosition(tick.value)
            body.line(x1: plotLeft, y1: y, x2: plotRight, y2: y, stroke: "#e3e3e3")
            body.line(x1: plotLeft - 5, y1: y, x2: plotLeft, y2: y, stroke: "#444444")
            body.text(tick.label, x: plotLeft - 8, y: y + 4, size: Self.fontSize, anchor: "end", fill: "#333333")
        }
        for value in xAxis.minorTicks {
            let x = xPosition(value)
            body.line(x1: x, y1: plotTop, x2: x, y2: plotBottom, stroke: "#f2f2f2")
        }
        for (index, tick) in xAxis.ticks.enumerated() {
            let x = xPosition(tick.value)
            body.line(x1: x, y1: plotTop, x2: x, y2: plotBottom, stroke: "#eeeeee")
            body.line(x1: x, y1: plotBottom, x2: x, y2: plotBottom + 5, stroke: "#444444")
            guard index % every == 0 else { continue }
            let label = fitted(tick.label, characters: Self.labelCharacters)
            if rotate {
                let y = plotBottom + 14
                body.text(
                    label, x: x + 4, y: y, size: Self.fontSize, anchor: "end", fill: "#333333",
                    transform: "rotate(-40 \(ChartNumber.coordinate(x + 4)) \(ChartNumber.coordinate(y)))"
                )
            } else {
                body.text(label, x: x, y: plotBottom + 19, size: Self.fontSize, anchor: "middle", fill: "#333333")
            }
        }
        body.line(x1: plotLeft, y1: plotTop, x2: plotLeft, y2: plotBottom, stroke: "#444444")
        body.line(x1: plotLeft, y1: plotBottom, x2: plotRight, y2: plotBottom, stroke: "#444444")

        // Series: in a categorical panel, the series that share a category are spread across
        // its band, a little for lines (so that markers do not hide each other) and side by
        // side for bars.
        let bars = panel.mark == .bars && xAxis.isCategorical
        var offsets = plotted.series.map { [Double](repeating: 0, count: $0.points.count) }
        var barWidth = 0.0
        if case let .categorical(count) = xAxis.scale {
            let band = plotWidth / Double(max(count, 1))
            var sharing = [[Int]](repeating: [], count: count)
            for (index, series) in plotted.series.enumerated() {
                for category in Set(series.points.map { Int($0.x) }).sorted() { sharing[category].append(index) }
            }
            let most = sharing.map(\.count).max() ?? 1
            barWidth = max(2, min(36, band * 0.8 / Double(max(most, 1)) - 2))
            for (index, series) in plotted.series.enumerated() {
                for (offset, point) in series.points.enumerated() {
                    let others = sharing[Int(point.x)]
                    guard others.count > 1, let slot = others.firstIndex(of: index) else { continue }
                    let spacing = bars ? barWidth + 2 : min(7, band * 0.4 / Double(others.count - 1))
                    offsets[index][offset] = (Double(slot) - Double(others.count - 1) / 2) * spacing
                }
            }
        }
        func positions(_ index: Int) -> [(x: Double, y: Double)] {
            plotted.series[index].points.enumerated().map { offset, point in
                (xPosition(point.x) + offsets[index][offset], yPosition(point.y))
            }
        }
        if bars {
            let baseline = yPosition(0)
            let showValues = plotted.series.allSatisfy { series in
                series.points.allSatisfy { textWidth(ChartNumber.compact($0.y, significant: 3), size: 10) <= barWidth + 2 }
            }
            for (index, series) in plotted.series.enumerated() {
                for (point, position) in zip(series.points, positions(index)) {
                    let value = ChartNumber.compact(point.y, significant: 3)
                    body.bar(
                        x: position.x - barWidth / 2, y: min(position.y, baseline), width: barWidth, height: abs(baseline - position.y),
                        colour: series.colour, pale: series.line == .dashed, tooltip: "\(series.name) · \(point.name): \(ChartNumber.compact(point.y))"
                    )
                    if showValues {
                        body.text(value, x: position.x, y: min(position.y, baseline) - 4, size: 10, anchor: "middle", fill: "#333333")
                    }
                }
            }
        } else {
            for (index, series) in plotted.series.enumerated() where series.points.count > 1 {
                body.polyline(positions(index), stroke: series.colour, dashed: series.line == .dashed)
            }
            for (index, series) in plotted.series.enumerated() {
                for (point, position) in zip(series.points, positions(index)) {
                    let tooltip = "\(series.name) · \(point.name): \(ChartNumber.compact(point.y))"
                    body.marker(x: position.x, y: position.y, colour: series.colour, hollow: series.line == .dashed, tooltip: tooltip)
                }
            }
        }

        // Legend, to the right of the plot.
        let legendLeft = Self.width - Self.margin - legendWidth
        for (index, series) in plotted.series.enumerated() {
            let y = plotTop + 10 + Double(index) * Self.legendRow
            if bars {
                body.bar(x: legendLeft + 6, y: y - 6, width: Self.legendSwatch - 12, height: 12, colour: series.colour, pale: series.line == .dashed, tooltip: nil)
            } else {
                body.polyline([(legendLeft, y), (legendLeft + Self.legendSwatch, y)], stroke: series.colour, dashed: series.line == .dashed)
                body.marker(x: legendLeft + Self.legendSwatch / 2, y: y, colour: series.colour, hollow: series.line == .dashed, tooltip: nil)
            }
            body.text(fitted(series.name, characters: Self.labelCharacters), x: legendLeft + Self.legendSwatch + 8, y: y + 4, size: Self.fontSize)
        }
        return xTitleY + 24
    }

    /// About how wide `text` is in the chart's sans-serif font.
    func textWidth(_ text: String, size: Double) -> Double {
        Double(text.count) * size * 0.62
    }

    /// `text` cut to at most `characters` characters, ending in "…" when cut.
    func fitted(_ text: String, characters: Int) -> String {
        text.count <= characters ? text : String(text.prefix(characters - 1)) + "…"
    }

    /// `text` broken into lines of at most `columns` characters, at spaces where it can be.
    func wrapped(_ text: String, columns: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var word = Substring(word)
            if !line.isEmpty && line.count + 1 + word.count > columns {
                lines.append(line)
                line = ""
            }
            while word.count > columns {
                if !line.isEmpty {
                    lines.append(line)
                    line = ""
                }
                lines.append(String(word.prefix(columns)))
                word = word.dropFirst(columns)
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }
}

/// The elements of an SVG document, written as text.
struct SVGBody {
    var text = ""

    /// `value` fit for XML character data and attribute values: markup characters escaped,
    /// line breaks and tabs made spaces, and characters XML forbids replaced by U+FFFD.
    static func escaped(_ value: String) -> String {
        var result = ""
        result.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\t", "\n", "\r": result += " "
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    result += "\u{FFFD}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    /// Appends markup as it is.
    mutating func raw(_ markup: String) {
        text += markup
    }

    /// Appends a line of text whose baseline starts (or, by `anchor`, is centred or ends) at
    /// `x`, `y`.
    mutating func text(
        _ content: String,
        x: Double,
        y: Double,
        size: Double,
        anchor: String = "start",
        weight: String? = nil,
        fill: String = "#222222",
        transform: String? = nil
    ) {
        text += "<text x=\"\(ChartNumber.coordinate(x))\" y=\"\(ChartNumber.coordinate(y))\" font-size=\"\(ChartNumber.coordinate(size))\" fill=\"\(fill)\""
        if anchor != "start" { text += " text-anchor=\"\(anchor)\"" }
        if let weight { text += " font-weight=\"\(weight)\"" }
        if let transform { text += " transform=\"\(transform)\"" }
        text += ">\(Self.escaped(content))</text>\n"
    }

    /// Appends a one-pixel line.
    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String) {
        text += "<line x1=\"\(ChartNumber.coordinate(x1))\" y1=\"\(ChartNumber.coordinate(y1))\" x2=\"\(ChartNumber.coordinate(x2))\" y2=\"\(ChartNumber.coordinate(y2))\" stroke=\"\(stroke)\" stroke-width=\"1\"/>\n"
    }

    /// Appends a rectangle.
    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String) {
        text += "<rect x=\"\(ChartNumber.coordinate(x))\" y=\"\(ChartNumber.coordinate(y))\" width=\"\(ChartNumber.coordinate(width))\" height=\"\(ChartNumber.coordinate(height))\" fill=\"\(fill)\" stroke=\"\(stroke)\"/>\n"
    }

    /// Appends a series' line through `points`.
    mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, dashed: Bool) {
        let list = points.map { "\(ChartNumber.coordinate($0.x)),\(ChartNumber.coordinate($0.y))" }.joined(separator: " ")
        text += "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"2\" stroke-linejoin=\"round\""
        if dashed { text += " stroke-dasharray=\"7 4\"" }
        text += "/>\n"
    }

    /// Appends a bar: filled, or pale with a dashed outline, with an optional tooltip.
    mutating func bar(x: Double, y: Double, width: Double, height: Double, colour: String, pale: Bool, tooltip: String?) {
        text += "<rect x=\"\(ChartNumber.coordinate(x))\" y=\"\(ChartNumber.coordinate(y))\" width=\"\(ChartNumber.coordinate(width))\" height=\"\(ChartNumber.coordinate(height))\""
        text += pale
            ? " fill=\"\(colour)\" fill-opacity=\"0.25\" stroke=\"\(colour)\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\""
            : " fill=\"\(colour)\""
        if let tooltip {
            text += "><title>\(Self.escaped(tooltip))</title></rect>\n"
        } else {
            text += "/>\n"
        }
    }

    /// Appends a point's marker: filled, or hollow for a dashed series, with an optional
    /// tooltip.
    mutating func marker(x: Double, y: Double, colour: String, hollow: Bool, tooltip: String?) {
        text += "<circle cx=\"\(ChartNumber.coordinate(x))\" cy=\"\(ChartNumber.coordinate(y))\" r=\"4\""
        text += hollow ? " fill=\"#ffffff\" stroke=\"\(colour)\" stroke-width=\"2\"" : " fill=\"\(colour)\" stroke=\"#ffffff\" stroke-width=\"1\""
        if let tooltip {
            text += "><title>\(Self.escaped(tooltip))</title></circle>\n"
        } else {
            text += "/>\n"
        }
    }
}
