/**
 * The demo chat page at /demo (DEMO=on; off by default in production): the client kit bundled for
 * the browser, so anyone can see Parley chat work. Its one API call, /demo/api/config, names the
 * endpoints the kit may use (this node first, then the other live api and all nodes) and whether
 * the node takes development identities (no JWT_SECRET) or needs a token.
 */
import { type Application, type Request, Router } from "express";
import type { ClusterView } from "../console/cluster-view.ts";
import type { Logger } from "../logger.ts";
import { pageAssets, pageShell, sendAsset, setPageHeaders } from "./pages.ts";

export type DemoDeps = { cluster: ClusterView; developmentIdentities: boolean; logger: Logger };

/** Mount /demo (before the app's 404 fallback). */
export function mountDemo(app: Application, deps: DemoDeps): void {
  const router = Router();
  const assets = pageAssets("demo");

  /** This node's own origin, then every other live node that matchmakes, as http(s) URLs. */
  async function endpointsFor(req: Request): Promise<{ endpoints: string[]; nodes: string[] }> {
    const self = `${req.protocol}://${req.get("host")}`;
    const nodes = await deps.cluster.nodes().catch(() => []);
    const addressed = nodes.filter((node) => node.address !== undefined);
    const others = addressed.filter((node) => node.role !== "rooms").map((node) => `${req.protocol}://${node.address}`);
    return { endpoints: [...new Set([self, ...others])], nodes: addressed.map((node) => node.address!) };
  }

  router.get("/", async (req, res) => {
    const { endpoints, nodes } = await endpointsFor(req);
    // The kit reaches the node that hosts a room at that node's own address: allow each node's
    // http(s) and ws(s) origin, and nothing else. A node added later is allowed after a reload.
    const ws = req.protocol === "https" ? "wss" : "ws";
    setPageHeaders(res, [...new Set([...endpoints, ...nodes.flatMap((address) => [`${req.protocol}://${address}`, `${ws}://${address}`])])]);
    res.type("html").send(pageShell("Parley demo chat", "/demo"));
  });

  router.get("/assets/:name", async (req, res) => {
    setPageHeaders(res);
    await sendAsset(res, assets, String(req.params.name)).catch((error: unknown) => {
      deps.logger.error({ err: String(error) }, "cannot bundle the demo page");
      res.status(503).json({ error: { code: "UNAVAILABLE", message: "the demo page could not be built" } });
    });
  });

  router.get("/api/config", async (req, res) => {
    setPageHeaders(res);
    res.json({ endpoints: (await endpointsFor(req)).endpoints, developmentIdentities: deps.developmentIdentities });
  });

  app.use("/demo", router);
}
