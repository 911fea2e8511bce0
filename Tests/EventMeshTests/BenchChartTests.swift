import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import EventMesh

/// What a parsed SVG document holds, gathered by `XMLParser`.
private final class SVGOutline: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
    }

    var elements: [Element] = []
    /// The contents of the `<text>` elements, in order.
    var texts: [String] = []
    /// The contents of the `<title>` elements, in order (the document's, then tooltips).
    var titles: [String] = []
    private var characters = ""

    /// Parses `document`.
    /// - Returns: whether it is well-formed XML, and what it holds.
    static func parse(_ document: String) -> (wellFormed: Bool, outline: SVGOutline) {
        let outline = SVGOutline()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = outline
        let wellFormed = parser.parse()
        return (wellFormed, outline)
    }

    func parser(
        _ parser: XMLParser,
        didStartElement elementName: String,
        namespaceURI: String?,
        qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        elements.append(Element(name: elementName, attributes: attributeDict))
        characters = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        characters += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        if elementName == "text" { texts.append(characters) }
        if elementName == "title" { titles.append(characters) }
        characters = ""
    }

    func named(_ name: String) -> [Element] {
        elements.filter { $0.name == name }
    }

    /// Every number in a geometric attribute, as written.
    var numbers: [String] {
        let geometric: Set<String> = ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "font-size", "points", "viewBox", "transform"]
        return elements.flatMap { element in
            element.attributes.filter { geometric.contains($0.key) }.flatMap { _, value in
                value.split(whereSeparator: { " ,()".contains($0) }).filter { $0 != "rotate" }.map(String.init)
            }
        }
    }
}

/// A chart shaped like a fan-out run's: throughput per node (bars) and latency percentiles.
private func sampleChart() -> BenchChart {
    var throughput: [BenchChart.Series] = []
    var latency: [BenchChart.Series] = []
    for (index, node) in ["node-a", "node-b", "node-c"].enumerated() {
        for raw in [false, true] {
            let name = "\(node) \(raw ? "raw" : "mesh")"
            let line: BenchChart.LineStyle = raw ? .dashed : .solid
            let rate = Double(9_500 - index * 700) * (raw ? 1.08 : 1)
            throughput.append(.init(name: name, group: node, line: line, points: [.init(label: node, y: rate)]))
            let p50 = Double(80 + index * 25) * (raw ? 0.6 : 1)
            latency.append(.init(name: name, group: node, line: line, points: [
                .init(label: "p50", y: p50), .init(label: "p90", y: p50 * 2.1), .init(label: "p99", y: p50 * 6.5),
                .init(label: "p99.9", y: p50 * 21), .init(label: "max", y: p50 * 95),
            ]))
        }
    }
    return BenchChart(
        title: "mesh bench fanout",
        subtitle: ["mesh bench fanout --nodes 3 --rate 10000 --duration 10s", "commit 1a2b3c4, Linux x86_64, 2 cores"],
        panels: [
            .init(title: "Throughput per node", xLabel: "node", yLabel: "events/s", categoricalX: true, mark: .bars, series: throughput),
            .init(title: "Latency percentiles", xLabel: "percentile", yLabel: "latency (µs)", categoricalX: true, logarithmicY: true, series: latency),
        ]
    )
}

@Suite struct BenchChartTests {
    @Test func documentIsWellFormedStandaloneSVG() throws {
        let document = sampleChart().svg()
        #expect(document.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\""))
        let (wellFormed, outline) = SVGOutline.parse(document)
        #expect(wellFormed)
        let root = try #require(outline.elements.first)
        #expect(root.name == "svg")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(root.attributes["version"] == "1.1")
        let width = try #require(root.attributes["width"])
        let height = try #require(root.attributes["height"])
        #expect(root.attributes["viewBox"] == "0 0 \(width) \(height)")
        #expect(try #require(Double(height)) > 500)
        #expect(outline.named("polyline").count >= 6)  // a line per latency series, plus legend swatches
        #expect(outline.named("circle").count >= 30)  // 6 series × 5 percentiles
    }

    @Test func axisTitlesLegendAndTicksAreShown() {
        let (_, outline) = SVGOutline.parse(sampleChart().svg())
        let texts = outline.texts
        for expected in [
            "mesh bench fanout", "commit 1a2b3c4, Linux x86_64, 2 cores",
            "Throughput per node", "Latency percentiles", "node", "events/s", "percentile", "latency (µs)",
            "node-a mesh", "node-a raw", "node-b mesh", "node-b raw", "node-c mesh", "node-c raw",
            "p50", "p90", "p99", "p99.9", "max",
            "0", "2.5k", "5k", "7.5k", "10k",  // throughput ticks
            "10", "100", "1k", "10k",  // latency decades
            "9.5k", "10.3k",  // values above the bars
        ] {
            #expect(texts.contains(expected), "missing text \(expected)")
        }
        // Each legend name once per panel.
        #expect(texts.filter { $0 == "node-b raw" }.count == 2)
        // Tooltips name the series, the category and the value.
        #expect(outline.titles.contains("node-a mesh · p50: 80"))
    }

    @Test func meshAndRawShareAColourAndDifferInDash() throws {
        let (_, outline) = SVGOutline.parse(sampleChart().svg())
        let lines = outline.named("polyline").filter { ($0.attributes["points"] ?? "").split(separator: " ").count == 5 }
        #expect(lines.count == 6)
        let solid = lines.filter { $0.attributes["stroke-dasharray"] == nil }
        let dashed = lines.filter { $0.attributes["stroke-dasharray"] != nil }
        #expect(solid.count == 3)
        #expect(dashed.count == 3)
        #expect(solid.map { $0.attributes["stroke"] } == dashed.map { $0.attributes["stroke"] })
        #expect(Set(solid.compactMap { $0.attributes["stroke"] }).count == 3)
        // Bars (one per point plus one per legend entry): mesh ones filled, raw ones pale and
        // dashed, in the same colours as the lines.
        let rects = outline.named("rect")
        let pale = rects.filter { $0.attributes["fill-opacity"] != nil }
        let filled = rects.filter { $0.attributes["stroke"] == nil && $0.attributes["fill"] != "#ffffff" }
        #expect(pale.count == 6)
        #expect(filled.count == 6)
        #expect(pale.allSatisfy { $0.attributes["stroke-dasharray"] != nil && $0.attributes["stroke"] == $0.attributes["fill"] })
        #expect(Set(pale.compactMap { $0.attributes["fill"] }) == Set(solid.compactMap { $0.attributes["stroke"] }))
        #expect(Set(filled.compactMap { $0.attributes["fill"] }) == Set(solid.compactMap { $0.attributes["stroke"] }))
    }

    @Test func specialCharactersAreEscaped() throws {
        let nasty = "a<b & c>d \"quoted\" 'single' </svg>"
        let chart = BenchChart(
            title: nasty,
            subtitle: ["line with\ttab, newline\nand control \u{1} character"],
            panels: [
                .init(title: "T & <panel>", xLabel: "x <axis>", yLabel: "y \"axis\"", categoricalX: true, series: [
                    .init(name: "series & 'one'", points: [.init(label: "<p50>", y: 1), .init(label: "a&b", y: 2)]),
                ]),
            ]
        )
        let document = chart.svg()
        #expect(document.contains("a&lt;b &amp; c&gt;d &quot;quoted&quot; &apos;single&apos; &lt;/svg&gt;"))
        #expect(!document.contains("<b"))
        #expect(!document.contains("<panel>"))
        #expect(!document.contains("\u{1}"))
        let (wellFormed, outline) = SVGOutline.parse(document)
        #expect(wellFormed)
        #expect(outline.texts.contains(nasty))
        #expect(outline.titles.first == nasty)
        for expected in ["T & <panel>", "x <axis>", "y \"axis\"", "series & 'one'", "<p50>", "a&b"] {
            #expect(outline.texts.contains(expected), "missing text \(expected)")
        }
        #expect(outline.texts.contains("line with tab, newline and control \u{FFFD} character"))
    }

    @Test func nonFiniteAndHugeValuesNeverReachTheDocument() throws {
        let awkward: [Double] = [.nan, .infinity, -.infinity, 1e308, -.greatestFiniteMagnitude, 1e-320, 0, 42]
        let points = awkward.enumerated().map { BenchChart.Point(x: $0.element, y: awkward[(awkward.count - 1 - $0.offset)]) }
        let chart = BenchChart(
            title: "awkward values",
            panels: [
                .init(title: "linear", xLabel: "x", yLabel: "y", series: [.init(name: "s", points: points)]),
                .init(title: "logarithmic", xLabel: "x", yLabel: "y", logarithmicX: true, logarithmicY: true, series: [.init(name: "s", points: points)]),
                .init(title: "categories", xLabel: "x", yLabel: "y", categoricalX: true, logarithmicY: true, series: [.init(name: "s", points: points)]),
                .init(title: "bars", xLabel: "x", yLabel: "y", categoricalX: true, mark: .bars, series: [.init(name: "s", points: points)]),
            ]
        )
        let document = chart.svg()
        #expect(!document.lowercased().contains("nan"))
        #expect(!document.lowercased().contains("inf"))
        let (wellFormed, outline) = SVGOutline.parse(document)
        #expect(wellFormed)
        let numbers = outline.numbers
        #expect(numbers.count > 100)
        for number in numbers {
            let value = Double(number)
            #expect(value?.isFinite == true, "not a finite number: \(number)")
        }
        #expect(outline.texts.contains("1e300"))  // clamped, labelled
        #expect(!outline.texts.contains("no data"))

        // An infinite latency is no measurement: it is left out rather than stretching the axis.
        let latency = BenchChart(title: "t", panels: [
            .init(title: "p", xLabel: "x", yLabel: "y", categoricalX: true, logarithmicY: true, series: [
                .init(name: "s", points: [.init(label: "p50", y: 20), .init(label: "p99", y: .infinity), .init(label: "max", y: 300)]),
            ]),
        ])
        let parsed = SVGOutline.parse(latency.svg()).outline
        #expect(parsed.titles.filter { $0.hasPrefix("s · ") } == ["s · p50: 20", "s · max: 300"])
        #expect(parsed.texts.contains("1k") && !parsed.texts.contains("10k"))
    }

    @Test func logarithmicAxisWithZerosPutsThemOnTheBottomEdge() throws {
        let axis = ChartAxis.logarithmic([0, 10, 1000])
        #expect(axis.scale == .logarithmic(lower: 0, upper: 3))
        #expect(axis.ticks.map(\.label) == ["1", "10", "100", "1k"])
        #expect(axis.fraction(0) == 0)
        #expect(axis.fraction(1) == 0)
        #expect(axis.fraction(1000) == 1)
        #expect(abs(axis.fraction(100) - 2.0 / 3) < 1e-12)
        #expect(axis.minorTicks.count == 3 * 8)

        let chart = BenchChart(title: "zeros", panels: [
            .init(title: "latency", xLabel: "percentile", yLabel: "latency (µs)", categoricalX: true, logarithmicY: true, series: [
                .init(name: "s", points: [.init(label: "p50", y: 0), .init(label: "p90", y: 10), .init(label: "p99", y: 1000)]),
            ]),
        ])
        let (wellFormed, outline) = SVGOutline.parse(chart.svg())
        #expect(wellFormed)
        let heights = try outline.named("circle").filter { $0.attributes["r"] == "4" }.prefix(3).map { try #require(Double($0.attributes["cy"] ?? "")) }
        #expect(heights.count == 3)
        #expect(heights == heights.sorted(by: >))  // 0 lowest, 1000 highest
        let gridLines = outline.named("line").compactMap { Double($0.attributes["y1"] ?? "") }
        #expect(heights.first == gridLines.max())  // on the bottom edge
    }

    @Test func allZeroOrEmptyPositiveDataStillGivesALogAxis() {
        #expect(ChartAxis.logarithmic([0, 0]).ticks.map(\.label) == ["0.1", "1", "10"])
        #expect(ChartAxis.logarithmic([100]).ticks.map(\.label) == ["10", "100", "1k"])
        let wide = ChartAxis.logarithmic([1e-300, 1e300])
        #expect(wide.ticks.count <= 10)
        #expect(wide.ticks.first?.label == "1e-300")
    }

    @Test func emptyPanelsShowNoData() {
        let chart = BenchChart(title: "empty", panels: [
            .init(title: "no series", xLabel: "x", yLabel: "y", series: []),
            .init(title: "only NaN", xLabel: "x", yLabel: "y", series: [.init(name: "s", points: [.init(x: .nan, y: 1), .init(x: 1, y: .nan)])]),
            .init(title: "one point", xLabel: "x", yLabel: "y", series: [.init(name: "single", points: [.init(x: 10_000, y: 5)])]),
        ])
        let (wellFormed, outline) = SVGOutline.parse(chart.svg())
        #expect(wellFormed)
        #expect(outline.texts.filter { $0 == "no data" }.count == 2)
        #expect(outline.texts.contains("single"))
        #expect(!outline.texts.contains("s"))  // no legend on a panel without data
        // The single point is centred on its own range.
        #expect(outline.texts.contains("9k") && outline.texts.contains("10k") && outline.texts.contains("11k"))

        let nothing = SVGOutline.parse(BenchChart(title: "nothing", panels: []).svg())
        #expect(nothing.wellFormed)
        #expect(nothing.outline.texts.contains("no data"))
        #expect(!SVGOutline.parse(sampleChart().svg()).outline.texts.contains("no data"))
    }

    @Test func outputIsDeterministic() {
        let first = sampleChart().svg()
        #expect(first == sampleChart().svg())
        let chart = sampleChart()
        #expect(chart.svg() == chart.svg())
        var changed = sampleChart()
        changed.panels[1].series[0].points[2].y += 1
        #expect(changed.svg() != first)
    }

    @Test func linearTicksAreRound() {
        #expect(ChartAxis.linear([0, 9_500], includeZero: true, targetCount: 5).ticks.map(\.label) == ["0", "2k", "4k", "6k", "8k", "10k"])
        #expect(ChartAxis.linear([120, 12_300], includeZero: true, targetCount: 5).ticks.map(\.label) == ["0", "2.5k", "5k", "7.5k", "10k", "12.5k"])
        #expect(ChartAxis.linear([0.03, 0.27], includeZero: true, targetCount: 5).ticks.map(\.label) == ["0", "0.1", "0.2", "0.3"])
        #expect(ChartAxis.linear([5, 5, 5], includeZero: true, targetCount: 5).ticks.map(\.label) == ["0", "1", "2", "3", "4", "5"])
        #expect(ChartAxis.linear([0, 0], includeZero: true, targetCount: 5).ticks.map(\.label) == ["0", "0.2", "0.4", "0.6", "0.8", "1"])
        #expect(ChartAxis.linear([1_000_000], includeZero: false, targetCount: 4).ticks.map(\.label) == ["0.9M", "0.95M", "1M", "1.05M", "1.1M"])
        #expect(ChartAxis.linear([-3, 7], includeZero: true, targetCount: 5).ticks.map(\.label) == ["-4", "-2", "0", "2", "4", "6", "8"])
        let huge = ChartAxis.linear([0, 1e300], includeZero: true, targetCount: 5)
        #expect(huge.ticks.first?.label == "0")
        #expect(huge.ticks.last?.label == "1e300")
        #expect(huge.ticks.allSatisfy { $0.value.isFinite })
    }

    @Test func numbersAreFormattedWithoutLocale() {
        #expect(ChartNumber.compact(1_234_567) == "1.235M")
        #expect(ChartNumber.compact(999_999) == "1M")
        #expect(ChartNumber.compact(0.5) == "0.5")
        #expect(ChartNumber.compact(-2_500) == "-2.5k")
        #expect(ChartNumber.compact(1e20) == "1e20")
        #expect(ChartNumber.compact(3e-7) == "3e-7")
        #expect(ChartNumber.compact(.nan) == "0")
        #expect(ChartNumber.fixed(-0.04, decimals: 1) == "0.0")
        #expect(ChartNumber.fixed(1234.5678, decimals: 2) == "1234.57")
        #expect(ChartNumber.fixed(0.05, decimals: 3) == "0.050")
        #expect(ChartNumber.coordinate(12.25) == "12.3")
        #expect(ChartNumber.coordinate(100) == "100")
        #expect(ChartNumber.coordinate(.infinity) == "0")
        #expect(ChartNumber.scientific(2.5e15, significant: 3) == "2.5e15")
        #expect(ChartNumber.decade(1000) == 3)
        #expect(ChartNumber.decade(999.999) == 2)
        #expect(ChartNumber.decade(0.001) == -3)
    }

    @Test func longSubtitlesWrapAndLongNamesAreCut() {
        let long = (1...60).map { "--flag\($0)" }.joined(separator: " ")
        let name = String(repeating: "n", count: 60)
        let chart = BenchChart(title: "t", subtitle: [long], panels: [
            .init(title: "p", xLabel: "x", yLabel: "y", series: [.init(name: name, points: [.init(x: 1, y: 1)])]),
        ])
        let (_, outline) = SVGOutline.parse(chart.svg())
        let lines = outline.texts.filter { $0.hasPrefix("--flag") }
        #expect(lines.count >= 3)
        #expect(lines.joined(separator: " ") == long)
        #expect(!outline.texts.contains(name))
        #expect(outline.texts.contains(String(repeating: "n", count: 23) + "…"))
    }

    /// Writes the sample chart to the path in BENCH_CHART_SAMPLE, for checking it with other
    /// tools (xmllint, a browser).
    @Test func writesTheSampleWhenAsked() throws {
        let document = sampleChart().svg()
        #expect(SVGOutline.parse(document).wellFormed)
        guard let path = ProcessInfo.processInfo.environment["BENCH_CHART_SAMPLE"], !path.isEmpty else { return }
        try document.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == document)
    }
}
