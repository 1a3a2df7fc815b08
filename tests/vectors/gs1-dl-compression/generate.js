// Regenerates vectors.json with GS1's reference implementation of Digital Link compression:
//   node generate.js path/to/GS1DigitalLinkToolkit.js > vectors.json
// (src/GS1DigitalLinkToolkit.js of gs1/GS1DigitalLinkCompressionPrototype, Apache-2.0).
const fs = require("fs");
eval(fs.readFileSync(process.argv[2], "utf8") + "\nglobalThis.GS1DigitalLinkToolkit = GS1DigitalLinkToolkit;");
const toolkit = new GS1DigitalLinkToolkit();
const stem = "https://example.org";
const inputs = [
  "/01/09780345418913",
  "/01/05412345000013/10/ABC%26%2B123",
  "/01/06901234567892/10/GF2026-001",
  "/01/06901234567892/22/V1/10/GF2026-001/21/12345",
  "/01/06901234567892/10/GF2026-001?17=281231&3103=000189",
  "/01/06901234567892/10/GF2026-001?15=280229",
  "/01/09506000134352/10/ABC123?7003=2612311200",
  "/01/09506000134352/21/abcdef0123",
  "/01/09506000134352/21/ABCDEF0123",
  "/01/09506000134352/10/0123456789",
  "/00/006141411234567890",
  "/00/006141411234567890?02=09506000134352&37=12",
  "/414/0614141000012/254/A1",
  "/8010/0614141ABC/8011/123",
  "/8017/106141410000000002/8019/123",
  "/255/0614141000012?3902=1000",
  "/8004/0614141ASSET1",
  "/253/0614141000012DOC1",
];
const vectors = [];
const seen = new Set();
for (const path of inputs) {
  for (const optimisations of [true, false]) {
    const compressed = toolkit
      .compressGS1DigitalLink(stem + path, false, stem, false, optimisations, false)
      .slice(stem.length);
    if (seen.has(compressed)) continue;
    seen.add(compressed);
    vectors.push({ compressed, uncompressed: path, optimisations });
  }
}
// Partially compressed: the primary key uncompressed, the rest as one payload segment.
const partial = {
  "(01)06901234567892(10)GF2026-001": "/01/06901234567892/10/GF2026-001",
  "(01)06901234567892(10)GF2026-001(17)281231": "/01/06901234567892/10/GF2026-001?17=281231",
  "(414)0614141000012(254)A1": "/414/0614141000012/254/A1",
};
for (const [elementStrings, path] of Object.entries(partial)) {
  const compressed = toolkit
    .gs1ElementStringsToCompressedGS1DigitalLink(elementStrings, false, stem, true, true)
    .slice(stem.length);
  vectors.push({ compressed, uncompressed: path, optimisations: true });
}
process.stdout.write(JSON.stringify(vectors, null, 1) + "\n");
