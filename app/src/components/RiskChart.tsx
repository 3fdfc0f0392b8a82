import { Bar, BarChart, Cell, LabelList, ResponsiveContainer, XAxis, YAxis } from "recharts";

const COLOURS = ["#1e8449", "#b9770e", "#c0392b", "#6c3483"];

/**
 * The decrypted prediction as a picture: one bar per class with its probability, the most
 * likely class named above it.
 */
export function RiskChart({ labels, probabilities, testId }: { labels: readonly string[]; probabilities: readonly number[]; testId?: string }) {
  const data = labels.map((label, i) => ({ label, p: probabilities[i] ?? 0 }));
  const top = data.reduce((best, d) => (d.p > best.p ? d : best), data[0] ?? { label: "", p: 0 });
  // Two classes (sigmoid): colour the positive class red, the negative green.
  const colour = (i: number) => (labels.length === 2 ? (i === 0 ? COLOURS[0]! : COLOURS[2]!) : COLOURS[i % COLOURS.length]!);
  return (
    <figure className="risk" data-testid={testId} data-label={top.label} data-probabilities={JSON.stringify(probabilities)}>
      <figcaption>
        Most likely: <strong data-testid="risk-label">{top.label}</strong> ({(top.p * 100).toFixed(1)} %)
      </figcaption>
      <ResponsiveContainer width="100%" height={60 + 44 * data.length}>
        <BarChart data={data} layout="vertical" margin={{ top: 8, right: 56, bottom: 8, left: 8 }}>
          <XAxis type="number" domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)} %`} />
          <YAxis type="category" dataKey="label" width={140} />
          <Bar dataKey="p" isAnimationActive={false}>
            {data.map((d, i) => <Cell key={d.label} fill={colour(i)} />)}
            <LabelList dataKey="p" position="right" formatter={(v: unknown) => `${(Number(v) * 100).toFixed(1)} %`} />
          </Bar>
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
