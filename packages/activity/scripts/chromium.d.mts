export function chromiumPath (): string
export function launchOptions (): { executablePath: string, headless: boolean, chromiumSandbox: boolean, args: string[] }
