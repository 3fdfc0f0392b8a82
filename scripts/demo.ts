// The end-to-end demo run by `npm start`. Filled in as the contracts, engine, gateway and oracle land.
console.log("MedCipher demo: nothing to show yet.");
