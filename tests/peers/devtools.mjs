// The two Chrome DevTools calls the browser peers need: a JSON endpoint of the remote debugging
// port (e.g. `/json/list`) and one `Runtime.evaluate` in a page over its WebSocket.
// Node 22 has fetch and WebSocket built in; nothing is installed for this. Under `authtap run`
// these requests go through the proxy too (NODE_USE_ENV_PROXY) and pass on unrecorded: the
// DevTools port is not in the interception set.

/** GETs `path` of the DevTools HTTP endpoint on 127.0.0.1:`port` as JSON. */
export async function devtools(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.json();
}

/** Evaluates an expression in the page over one DevTools WebSocket session. */
export function evaluate(wsUrl, expression) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.id !== 1) return;
      ws.close();
      resolve(msg.result?.result?.value);
    };
    ws.onerror = () => reject(new Error('DevTools WebSocket error'));
  });
}
