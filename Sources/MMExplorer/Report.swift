// `kmemlab report --html`: the explorer's views as one self-contained HTML file.
//
// The page, its style and its script are the ones `kmemlab serve` will serve; the report inlines
// them with the machine's JSON, so the file opens from disk with no server and no network.

import MMCore
import MMText

public enum Report {
    /// The report for a booted machine (see `PageMap.refusal` for the largest one).
    public static func html(_ k: Kernel, title: String, user: [UserPageExtent] = [], timeline: ReplayTimeline? = nil,
                            processes: [ExplorerData.ProcessView] = []) -> String {
        if k.arch.is32Bit {
            // i386: the layout, zones, firmware map and log (the model stops after zones and highmem).
            let data = ExplorerData.json32(k, title: title)
            return ExplorerAssets.page(title: title, dataScript: "<script id=\"machine-data\" type=\"application/json\">\(data)</script>")
        }
        let map = PageMap(k, user: user)
        let data = ExplorerData.json(k, title: title, map: map, timeline: timeline, processes: processes)
        return ExplorerAssets.page(title: title, dataScript: "<script id=\"machine-data\" type=\"application/json\">\(data)</script>")
    }
}
