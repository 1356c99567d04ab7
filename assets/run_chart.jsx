// The line charts of the Runs tab. The page imports this module only through `import()`
// (a NoSSRComponent, see training_dashboard/components/run_charts.py), so recharts (~350 KB)
// is a chunk of its own, fetched when the Runs tab or a run is first shown, never by the
// Datasets tab. The styles are those Reflex's rx.recharts gives the same chart.
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

const ACTIVE_DOT = { stroke: "var(--accent-2)", fill: "var(--accent-10)" };
const DOT = { stroke: "var(--accent-10)", fill: "var(--accent-4)" };
const TOOLTIP = {
  contentStyle: { background: "var(--gray-1)", borderColor: "var(--gray-4)", borderRadius: "8px" },
  cursor: { strokeWidth: 1, fill: "var(--gray-3)" },
  itemStyle: { color: "var(--gray-12)" },
  labelStyle: { color: "var(--gray-11)" },
};

// `lines`: one object of recharts <Line> props per line (dataKey, name, stroke, and optionally
// dot, connectNulls, hide, legendType); `data`: the points, each with a numeric `step`.
export function RunLineChart({ data, lines, height }) {
  return (
    <ResponsiveContainer width="100%" height={height} minWidth={10} minHeight={10}>
      <LineChart data={data}>
        {lines.map((line) => (
          <Line key={line.dataKey} activeDot={ACTIVE_DOT} isAnimationActive={false} {...line}
                dot={line.dot === false ? false : DOT} />
        ))}
        <CartesianGrid strokeDasharray="3 3" stroke="var(--gray-a5)" />
        <XAxis dataKey="step" type="number" domain={["dataMin", "dataMax"]} allowDecimals={false}
               stroke="var(--gray-9)" />
        <YAxis domain={["auto", "auto"]} width={60} stroke="var(--gray-9)" />
        <Tooltip {...TOOLTIP} />
        <Legend />
      </LineChart>
    </ResponsiveContainer>
  );
}

// Rendered by the Runs tab: mounting it fetches this module (and recharts) before a run is opened.
export function Preload() {
  return null;
}
