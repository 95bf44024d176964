// Gallery samples: a starter policy and good / bad inputs.
// The segmentation example of docs/segmentation.md, bundled as text (build.mjs).
import SHOP_MANIFESTS from "../../../examples/segmentation/manifests.yaml";
import SHOP_FLOWS from "../../../examples/segmentation/flows.json";
export const STARTER_POLICY = `// Edit me: diagnostics appear as you type.
policy "Privileged container" {
  severity high
  lifecycle deploy
  enforce scale_to_zero
  soc2 CC6.1, CC6.8
  when container.privileged
  message "container {container.name} runs privileged"
}
`;

export const INPUTS = {
  "Deployment: privileged, latest tag (bad)": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: node-agent
  namespace: monitoring
spec:
  template:
    metadata:
      labels: {app: node-agent}
    spec:
      containers:
      - name: agent
        image: quay.io/acme/node-agent:latest
        securityContext:
          privileged: true
        env:
        - name: DB_PASSWORD
          value: hunter2
`,
  "Deployment: hardened (good)": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog
  namespace: shop
  labels: {app: catalog, owner: team-shop}
  annotations: {email: team-shop@example.com, owner: team-shop}
spec:
  template:
    metadata:
      labels: {app: catalog}
    spec:
      automountServiceAccountToken: false
      serviceAccountName: catalog
      containers:
      - name: catalog
        image: registry.example.com/shop/catalog:2.0.3
        securityContext:
          privileged: false
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          runAsNonRoot: true
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
        resources:
          requests: {cpu: 250m, memory: 128Mi}
          limits: {cpu: "1", memory: 256Mi}
`,
  "Records JSON: process spawning a shell": `[
  {"kind": "deployment", "id": "d1", "name": "payments-api", "namespace": "prod",
   "containers": [{"name": "api", "security_context": {"privileged": false}}]},
  {"kind": "process", "id": "p1", "deployment_id": "d1", "container": "api", "namespace": "prod",
   "name": "bash", "exec_path": "/bin/bash", "args": "-i", "uid": 0}
]
`,
  "Network: a shop's manifests and observed flows (see the Network map tab)": SHOP_MANIFESTS,
};

// Observed flows that go with an input of the gallery (the Network map tab).
export const FLOWS = {
  "Network: a shop's manifests and observed flows (see the Network map tab)": SHOP_FLOWS,
};
