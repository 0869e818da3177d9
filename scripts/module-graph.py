#!/usr/bin/env python3
"""The import graph of the biar library's top-level modules (from `crate::` paths), its cycles,
and the edges that go against ARCHITECTURE.md's module order. Exits 1 on either.

usage: scripts/module-graph.py [SRC_DIR] [ORDER,COMMA,SEPARATED]"""
import os,re,sys,collections
root=sys.argv[1] if len(sys.argv)>1 else 'crates/biar/src'
mods=[d for d in os.listdir(root) if d!='lib.rs']
mods=sorted(m[:-3] if m.endswith('.rs') else m for m in mods)
edges=collections.defaultdict(set)
for m in mods:
    p=os.path.join(root,m)
    files=[p+'.rs'] if os.path.exists(p+'.rs') else [os.path.join(dp,f) for dp,_,fs in os.walk(p) for f in fs if f.endswith('.rs')]
    for f in files:
        src=open(f).read()
        # crate::X and `use crate::{X, Y::..}` groups
        for mm in re.finditer(r'crate::\{([^;]*)\}',src,re.S):
            for t in re.findall(r'(?:^|[,{\s])([a-z_]+)(?=::|\s*[,}]|$)',mm.group(1)):
                if t in mods and t!=m: edges[m].add(t)
        for t in re.findall(r'crate::([a-z_]+)',src):
            if t in mods and t!=m: edges[m].add(t)
for m in mods: print(f"{m:12} -> {', '.join(sorted(edges[m]))}")
# cycles via SCC
idx={};low={};st=[];on=set();sccs=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        s=[]
        while True:
            w=st.pop();on.discard(w);s.append(w)
            if w==v:break
        if len(s)>1: sccs.append(sorted(s))
for m in mods:
    if m not in idx: sc(m)
print("cycles (strongly connected groups):", sccs or "none")
ORDER='location,category,progress,oci,fsutil,profile,nixexpr,config,export,docker,doctor,builder,nixbuild,index,presets,image,registry,run,inspect,operations'
order=(sys.argv[2] if len(sys.argv)>2 else ORDER).split(',')
back=[]
if order:
    back=[(a,b) for a in mods for b in edges[a] if a in order and b in order and order.index(b)>order.index(a)]
    print("back edges against the table order:", back or "none")
sys.exit(1 if sccs or back else 0)
