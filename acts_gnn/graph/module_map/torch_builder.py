"""Module-map graph construction with torch tensor operations (runs on CUDA or CPU).

The same algorithm as the C++ core (``acts_gnn._core.module_map_graph``), written with
vectorised tensor operations so that it runs on a GPU: expand all hit pairs of every module
doublet, apply the doublet cuts, join the (m1, m2) and (m2, m3) legs of every triplet on their
shared middle hit, apply the triplet cuts, and keep the edges of passing triplets. It gives the
same edge set in the same order as the CPU path (tested), computed in float64.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import torch

from acts_gnn.graph.module_map.map import ModuleMap


class TorchModuleMapGraphBuilder:
    """Module-map graph construction on a torch device (``"cuda"``, ``"cpu"``)."""

    def __init__(
        self, module_map: ModuleMap, device: str | torch.device = "cuda", max_pairs: int = 1 << 24
    ) -> None:
        self.module_map = module_map
        self.max_pairs = max_pairs
        self.device = torch.device(device)

        def as_tensor(array: npt.ArrayLike, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=self.device)

        self.doublet_modules = as_tensor(module_map.doublets, torch.int64)
        self.doublet_cuts = as_tensor(module_map.doublet_cuts, torch.float64)  # [D, 4, 2]
        self.triplet_doublets = as_tensor(module_map.triplet_doublets, torch.int64)
        self.cuts12 = as_tensor(module_map.cuts12, torch.float64)
        self.cuts23 = as_tensor(module_map.cuts23, torch.float64)
        self.diff_dzdr = as_tensor(module_map.diff_dzdr, torch.float64)
        self.diff_dydx = as_tensor(module_map.diff_dydx, torch.float64)

    def _doublet_chunk(self, first, last, counts, starts, hits_by_module, x, y, z, r, phi, eta):  # type: ignore[no-untyped-def]
        """Doublet-stage edges (doublet, h1, h2, quantities) of doublets [first, last)."""
        dev = self.device
        m1 = self.doublet_modules[first:last, 0]
        m2 = self.doublet_modules[first:last, 1]
        pairs = counts[m1] * counts[m2]
        local_d = torch.repeat_interleave(torch.arange(len(pairs), device=dev), pairs)
        local = torch.arange(len(local_d), device=dev) - (torch.cumsum(pairs, 0) - pairs)[local_d]
        n2 = counts[m2][local_d]
        h1 = hits_by_module[starts[m1][local_d] + torch.div(local, n2, rounding_mode="floor")]
        h2 = hits_by_module[starts[m2][local_d] + local % n2]
        d = local_d + first
        distinct = h1 != h2
        d, h1, h2 = d[distinct], h1[distinct], h2[distinct]
        q = _doublet_quantities(x, y, z, r, phi, eta, h1, h2)
        passed = _passes(q, self.doublet_cuts[d])
        return d[passed], h1[passed], h2[passed], q[passed]

    @torch.no_grad()
    def __call__(
        self, positions: npt.ArrayLike, geometry_ids: npt.ArrayLike
    ) -> tuple[torch.Tensor, int]:
        """(edge_index int64 [2, E] on the device, edges after the doublet cuts)."""
        dev = self.device
        hit_module = torch.as_tensor(self.module_map.module_index(geometry_ids), device=dev)
        pos = torch.as_tensor(np.asarray(positions, dtype=np.float64), device=dev)
        x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
        r = torch.hypot(x, y)
        phi = torch.atan2(y, x)
        eta = torch.where(
            r > 0, torch.asinh(z / torch.where(r > 0, r, 1.0)), torch.where(z >= 0, 1e3, -1e3).to(z)
        )

        # Hits grouped by module (stable: same order as the C++ counting sort).
        valid = torch.nonzero(hit_module >= 0).squeeze(1)
        order = torch.argsort(hit_module[valid], stable=True)
        hits_by_module = valid[order]
        n_modules = self.module_map.n_modules
        counts = torch.bincount(hit_module[valid], minlength=n_modules)
        starts = torch.cumsum(counts, 0) - counts

        # Doublet stage: expand every hit pair of every doublet, in chunks of at most
        # ``max_pairs`` candidates to bound memory; chunks keep the doublet order.
        m1, m2 = self.doublet_modules[:, 0], self.doublet_modules[:, 1]
        pairs = counts[m1] * counts[m2]
        chunk = ((torch.cumsum(pairs, 0) - pairs) // self.max_pairs).cpu().numpy()
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(chunk)) + 1, [len(chunk)]])
        parts: list[tuple[torch.Tensor, ...]] = []
        for first, last in itertools.pairwise(bounds):
            if first == last:
                continue
            parts.append(
                self._doublet_chunk(
                    int(first), int(last), counts, starts, hits_by_module, x, y, z, r, phi, eta
                )
            )
        if parts:
            d, h1, h2, q = (torch.cat(p) for p in zip(*parts))
        else:
            d = h1 = h2 = torch.zeros(0, dtype=torch.int64, device=dev)
            q = torch.zeros((0, 6), dtype=torch.float64, device=dev)
        n_doublet_edges = len(d)
        edge_count = torch.bincount(d, minlength=len(pairs))
        edge_start = torch.cumsum(edge_count, 0) - edge_count

        # Triplet stage: for each triplet, its (m1,m2) edges a, then its (m2,m3) edges b with
        # src(b) == dst(a), found by binary search on edges sorted by (doublet, src).
        d12, d23 = self.triplet_doublets[:, 0], self.triplet_doublets[:, 1]
        n_a = edge_count[d12]
        t = torch.repeat_interleave(torch.arange(len(d12), device=dev), n_a)
        a = edge_start[d12][t] + torch.arange(len(t), device=dev) - (torch.cumsum(n_a, 0) - n_a)[t]
        ok = _passes(q[a], self.cuts12[t])
        t, a = t[ok], a[ok]
        n_hits = len(x)
        key_b = d * n_hits + h1
        sorted_key, perm = torch.sort(key_b, stable=True)
        want = d23[t] * n_hits + h2[a]
        lo = torch.searchsorted(sorted_key, want, right=False)
        hi = torch.searchsorted(sorted_key, want, right=True)
        n_b = hi - lo
        pair = torch.repeat_interleave(torch.arange(len(t), device=dev), n_b)
        b = perm[
            lo[pair] + torch.arange(len(pair), device=dev) - (torch.cumsum(n_b, 0) - n_b)[pair]
        ]
        t, a = t[pair], a[pair]
        ok = _passes(q[b], self.cuts23[t])
        ok &= _inside(q[a, 4] - q[b, 4], self.diff_dzdr[t])
        ok &= _inside(-q[a, 5] - q[b, 5], self.diff_dydx[t])
        keep = torch.zeros(len(d), dtype=torch.bool, device=dev)
        keep[a[ok]] = True
        keep[b[ok]] = True
        return torch.stack([h1[keep], h2[keep]]), n_doublet_edges


def _doublet_quantities(x, y, z, r, phi, eta, h1, h2) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """[E, 6]: z0, dphi, phi_slope, deta, dz/dr, dy/dx (as cpp/module_map.cpp uses them)."""
    dr = r[h2] - r[h1]
    dz = z[h2] - z[h1]
    dphi = torch.remainder(phi[h2] - phi[h1] + torch.pi, 2 * torch.pi) - torch.pi
    nonzero = dr != 0
    safe_dr = torch.where(nonzero, dr, 1.0)
    phi_slope = torch.where(nonzero, dphi / safe_dr, 0.0)
    dzdr = torch.where(nonzero, dz / safe_dr, 0.0)
    z0 = z[h1] - r[h1] * dzdr
    dx = x[h2] - x[h1]
    dydx = torch.where(dx != 0, (y[h2] - y[h1]) / torch.where(dx != 0, dx, 1.0), 0.0)
    # deta as module maps define it: eta(inner) - eta(outer)
    return torch.stack([z0, dphi, phi_slope, eta[h1] - eta[h2], dzdr, dydx], dim=1)


def _inside(values: torch.Tensor, min_max: torch.Tensor) -> torch.Tensor:
    return (values >= min_max[:, 0]) & (values <= min_max[:, 1])


def _passes(q: torch.Tensor, cuts: torch.Tensor) -> torch.Tensor:
    """q [E, >=4] against cuts [E, 4, 2] for z0, dphi, phi_slope, deta."""
    return torch.all((q[:, :4] >= cuts[:, :, 0]) & (q[:, :4] <= cuts[:, :, 1]), dim=1)
