/** The Cluster view: every live node with its load and rates, refreshed every 2 s. */
import { getJson } from "../shared/api.ts";
import { every, html, useEffect, useState } from "../shared/html.ts";
import type { NodeStats } from "./types.ts";

const megabytes = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;

export function ClusterView() {
  const [nodes, setNodes] = useState<NodeStats[] | undefined>();
  const [failure, setFailure] = useState("");
  useEffect(
    () =>
      every(2000, async () => {
        try {
          setNodes((await getJson<{ nodes: NodeStats[] }>("/admin/api/cluster")).nodes);
          setFailure("");
        } catch (error) {
          setFailure((error as Error).message);
        }
      }),
    [],
  );
  const totals = (nodes ?? []).reduce((sum, node) => ({ rooms: sum.rooms + node.rooms, connections: sum.connections + node.connections, messages: sum.messages + node.rates.messagesPerSec }), {
    rooms: 0,
    connections: 0,
    messages: 0,
  });
  return html`
    <h2>Cluster</h2>
    ${failure && html`<p role="alert" class="error">${failure}</p>`}
    <p class="muted" aria-live="polite">${nodes ? `${nodes.length} nodes · ${totals.rooms} rooms · ${totals.connections} connections · ${totals.messages.toFixed(1)} messages/s` : "Loading…"}</p>
    <div class="scroll">
      <table>
        <caption class="visually-hidden">Nodes of the cluster, updated every 2 seconds</caption>
        <thead>
          <tr><th scope="col">Node</th><th scope="col">Role</th><th scope="col">Version</th><th scope="col">State</th><th scope="col">Rooms</th><th scope="col">Connections</th><th scope="col">Loop lag p99</th><th scope="col">CPU</th><th scope="col">RSS</th><th scope="col">Messages/s</th><th scope="col">Deliveries/s</th><th scope="col">Joins/s</th><th scope="col">Refusals/s</th><th scope="col">Store write</th></tr>
        </thead>
        <tbody>
          ${(nodes ?? []).map(
            (node) => html`<tr data-node=${node.name}>
              <th scope="row">${node.name}</th>
              <td>${node.role}</td>
              <td>${node.version}</td>
              <td class=${node.ready ? "ok" : "error"}>${node.draining ? "draining" : node.ready ? "ready" : "not ready"}</td>
              <td>${node.rooms}</td>
              <td>${node.connections}</td>
              <td>${node.eventLoopLagMs.toFixed(1)} ms</td>
              <td>${node.cpuPercent.toFixed(0)} %</td>
              <td>${megabytes(node.rssBytes)}</td>
              <td>${node.rates.messagesPerSec}</td>
              <td>${node.rates.deliveriesPerSec}</td>
              <td>${node.rates.joinsPerSec}</td>
              <td>${
                Object.entries(node.rates.refusalsPerSec)
                  .map(([code, rate]) => `${code} ${rate}`)
                  .join(", ") || "none"
              }</td>
              <td>${node.rates.storeWriteMs === null ? "idle" : `${node.rates.storeWriteMs} ms`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  `;
}
