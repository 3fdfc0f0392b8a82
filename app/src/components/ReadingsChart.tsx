import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { METRICS, type Metric, type Reading } from "medcipher";

import { seriesByMetric, type SeriesPoint } from "../lib/readings.js";

/** Charts drawn together: blood pressure's two readings share one. */
const GROUPS: { title: string; metrics: Metric[] }[] = [
  { title: "Blood pressure", metrics: ["systolic_bp", "diastolic_bp"] },
  { title: "Heart rate", metrics: ["heart_rate"] },
  { title: "Glucose", metrics: ["glucose"] },
  { title: "Body temperature", metrics: ["body_temperature"] },
  { title: "Oxygen saturation", metrics: ["spo2"] },
  { title: "Respiratory rate", metrics: ["respiratory_rate"] },
  { title: "Body weight", metrics: ["body_weight"] },
];
const COLOURS = ["#c0392b", "#2471a3", "#1e8449", "#b9770e"];

const time = (t: number) => new Date(t).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** One line chart per vital, readings over time (decrypted in this page). */
export function ReadingsCharts({ readings, testId }: { readings: readonly Reading[]; testId?: string }) {
  const series = seriesByMetric(readings);
  const groups = GROUPS.filter((g) => g.metrics.some((m) => series.has(m)));
  return (
    <div className="charts" data-testid={testId} data-readings={readings.length}>
      {groups.map((group) => {
        // One row per time stamp, a column per metric of the group.
        const rows = new Map<number, Record<string, number>>();
        for (const metric of group.metrics) {
          for (const point of series.get(metric) ?? ([] as SeriesPoint[])) rows.set(point.t, { ...(rows.get(point.t) ?? { t: point.t }), [metric]: point.value });
        }
        const data = [...rows.values()].sort((a, b) => a.t! - b.t!);
        const unit = METRICS[group.metrics[0]!].unit;
        return (
          <figure key={group.title} className="chart" data-testid={`chart-${group.metrics[0]}`}>
            <figcaption>{group.title} <span className="muted">({unit})</span></figcaption>
            <ResponsiveContainer width="100%" height={180}>
              <LineChart data={data} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={time} minTickGap={40} />
                <YAxis domain={["auto", "auto"]} width={52} tickFormatter={(v: number) => String(Number(v.toFixed(1)))} />
                <Tooltip labelFormatter={(t) => time(Number(t))} />
                {group.metrics.length > 1 ? <Legend /> : null}
                {group.metrics.filter((m) => series.has(m)).map((metric, i) => (
                  <Line key={metric} type="monotone" dataKey={metric} name={METRICS[metric].display} stroke={COLOURS[i % COLOURS.length]} dot={false} isAnimationActive={false} />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </figure>
        );
      })}
    </div>
  );
}
