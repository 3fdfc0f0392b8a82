/** The app's two halves by URL hash (#/patient, #/clinician?share=…), so a share link opens the clinician's view. */
import { useEffect, useState } from "react";

export type Route = { view: "patient" | "clinician"; params: URLSearchParams };

function parse(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?");
  return { view: path === "clinician" ? "clinician" : "patient", params: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const update = () => setRoute(parse(location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
