import { useEffect } from 'react';

/** useTitle names the browser tab after the page, so tabs and history tell pages apart. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · bokujo` : 'bokujo';
  }, [title]);
}
