// Deployment configuration. The deploy step rewrites this one file.
// apiBase: "" means the API is on the same origin as the console.
window.GAMI_CONFIG = {apiBase: ""};
